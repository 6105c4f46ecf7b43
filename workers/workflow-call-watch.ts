import { createRequire } from 'node:module';
import path from 'node:path';
import type { Worker as ThreadType, WorkerOptions as ThreadOptions } from 'node:worker_threads';

/**
 * One timer on the main thread instead of a watchdog thread per entry into workflow code.
 *
 * The SDK runs workflow code in worker threads and bounds every entry into it with `vm`'s `timeout` (its
 * isolateExecutionTimeout, 5 s), which Node implements by creating and joining a thread for each call. An activation
 * enters three or four times, so in CPU profiles of `npm run bench -- runtime` those threads were over half of the
 * workflow threads' busy time. While installed, each new SDK workflow thread preloads workflow-thread-preload.cjs,
 * which drops the per-call timeout and writes each call's start into memory shared with this thread; a timer here
 * checks it. A call over its limit (an endless loop in workflow code) cannot be interrupted from here, so its thread
 * is terminated: the SDK's Worker then fails and the process exits non-zero for its supervisor to restart, where
 * the SDK's own timeout would have failed the workflow task and kept the thread.
 */
const PRELOAD = path.join(__dirname, 'workflow-thread-preload.cjs');
const SDK_THREAD = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread\.js$/;
const DATA_KEY = 'durableTraderWorkflowCalls';

export interface WorkflowCallWatch {
  /** workflow threads watched now, and the calls into workflow code they made without a watchdog thread */
  stats(): { threads: number; calls: number };
  /** back to the SDK's own per-call timeout for threads created from now on */
  uninstall(): void;
}

export interface WorkflowCallWatchOptions {
  /** told once when a call overran and its thread is being terminated */
  onRunaway: (info: { ranMs: number; limitMs: number; threadId: number }) => void;
  /** how often the timer looks (default 250 ms) */
  checkEveryMs?: number;
}

// The module object the SDK reads `Worker` from at each `new` (node:worker_threads is shared by every importer).
const threads = createRequire(__filename)('node:worker_threads') as { Worker: typeof ThreadType };

export function watchWorkflowCalls({ onRunaway, checkEveryMs = 250 }: WorkflowCallWatchOptions): WorkflowCallWatch {
  const Original = threads.Worker;
  const watched = new Map<ThreadType, BigInt64Array>();
  let calls = 0n;
  class WatchedThread extends Original {
    constructor(filename: string | URL, options?: ThreadOptions) {
      if (!SDK_THREAD.test(String(filename))) {
        super(filename, options);
        return;
      }
      const shared = new SharedArrayBuffer(3 * BigInt64Array.BYTES_PER_ELEMENT);
      super(filename, {
        ...options,
        execArgv: [...(options?.execArgv ?? process.execArgv), '--require', PRELOAD],
        workerData: { ...(options?.workerData as object | undefined), [DATA_KEY]: shared },
      });
      const slots = new BigInt64Array(shared);
      watched.set(this, slots);
      this.once('exit', () => {
        if (watched.delete(this)) calls += Atomics.load(slots, 2);
      });
    }
  }
  threads.Worker = WatchedThread;
  const timer = setInterval(() => {
    const now = BigInt(Date.now());
    for (const [thread, slots] of watched) {
      const started = Atomics.load(slots, 0);
      const limit = Atomics.load(slots, 1);
      if (started === 0n || now - started <= limit) continue;
      watched.delete(thread);
      calls += Atomics.load(slots, 2);
      onRunaway({ ranMs: Number(now - started), limitMs: Number(limit), threadId: thread.threadId });
      void thread.terminate();
    }
  }, checkEveryMs);
  timer.unref();
  return {
    stats: () => ({ threads: watched.size, calls: Number([...watched.values()].reduce((sum, s) => sum + Atomics.load(s, 2), calls)) }),
    uninstall: () => {
      clearInterval(timer);
      if (threads.Worker === WatchedThread) threads.Worker = Original;
    },
  };
}
