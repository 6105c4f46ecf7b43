'use strict';
/**
 * Preloaded (--require) into the SDK's workflow threads by workers/workflow-call-watch.ts; does nothing elsewhere.
 *
 * The SDK enters workflow code three or four times per activation with `script.runInContext(ctx, { timeout })`, and
 * Node enforces each timeout with a watchdog thread created and joined for that one call (about 0.15 ms of CPU and
 * 0.3 ms of wall time each). Here those calls run without the per-call timeout: the call's start time goes into
 * memory shared with the worker's main thread, whose one timer enforces the same limit (workflow-call-watch.ts).
 */
const { isMainThread, workerData } = require('node:worker_threads');

const shared = !isMainThread && workerData ? workerData.durableTraderWorkflowCalls : undefined;
if (shared instanceof SharedArrayBuffer) {
  const vm = require('node:vm');
  // [0] start (epoch ms) of the call in flight, 0 when none; [1] its time limit in ms; [2] calls watched so far
  const slots = new BigInt64Array(shared);
  const runInContext = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function runInContextWatched(context, options) {
    // A call nested in a watched one keeps its own watchdog (the outer call's limit covers it anyway).
    if (!options || options.timeout === undefined || Atomics.load(slots, 0) !== 0n) return runInContext.call(this, context, options);
    const rest = Object.assign({}, options);
    delete rest.timeout;
    Atomics.store(slots, 1, BigInt(options.timeout));
    Atomics.store(slots, 0, BigInt(Date.now()));
    Atomics.add(slots, 2, 1n);
    try {
      return runInContext.call(this, context, rest);
    } finally {
      Atomics.store(slots, 0, 0n);
    }
  };
}
