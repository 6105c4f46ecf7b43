/**
 * Entering workflow code: the SDK's watchdog thread per call against one timer on the main thread
 * (`npm run bench -- workflow-calls [--workflows=100] [--pokes=10] [--rounds=4]`).
 *
 * Each round runs a fresh Worker in this process on a private dev server: `workflows` workflows each take `pokes`
 * signals, and each signal runs one local activity (a batch deployment's wake in miniature). Rounds alternate the
 * two ways of enforcing workflow code's time limit (workers/workflow-call-watch.ts against the SDK's own), so both
 * see the same machine. Figures: this process's CPU (every thread) and wall time per signal handled; the ratio is
 * per-call / main-thread (above 1: the watchdog threads cost that much more).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { bundleOptions } from '../harness/bundles';
import { watchWorkflowCalls } from '../workers/workflow-call-watch';
import { benchStack, intArg, median } from './stack';
import type { pokedWorkflow } from './workflow-calls-workflow';

type Mode = 'main-thread' | 'per-call';
const NAMESPACE = 'default';

export async function benchWorkflowCalls(): Promise<Record<string, unknown>> {
  const workflows = intArg('workflows', 100, 2_000);
  const pokes = intArg('pokes', 10, 1_000);
  const rounds = intArg('rounds', 4, 50);
  Runtime.install({ logger: new DefaultLogger('WARN') }); // not a line per worker state change
  const stack = await benchStack({ temporal: true, redis: false });
  const connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  const native = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: NAMESPACE });
  const workflowBundle = await bundleWorkflowCode(bundleOptions(require.resolve('./workflow-calls-workflow')));
  const perSignal: Record<Mode, { cpuMs: number[]; wallMs: number[]; callsPerSignal: number[] }> = {
    'main-thread': { cpuMs: [], wallMs: [], callsPerSignal: [] },
    'per-call': { cpuMs: [], wallMs: [], callsPerSignal: [] },
  };
  try {
    for (let round = 0; round < rounds * 2; round++) {
      const mode: Mode = round % 2 === 0 ? 'main-thread' : 'per-call';
      const watch = mode === 'main-thread' ? watchWorkflowCalls({ onRunaway: (r) => console.error('runaway workflow code', r) }) : undefined;
      const taskQueue = `workflow-calls-${randomUUID().slice(0, 8)}`;
      const worker = await Worker.create({
        connection: native,
        namespace: NAMESPACE,
        taskQueue,
        workflowBundle,
        workflowThreadPoolSize: 2,
        activities: { touch: async (n: number) => n },
      });
      const run = worker.run();
      const handles = await Promise.all(Array.from({ length: workflows }, (_, i) => client.workflow.start<typeof pokedWorkflow>('pokedWorkflow', { taskQueue, workflowId: `${taskQueue}-${i}`, args: [pokes] })));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let p = 0; p < pokes; p++) await Promise.all(handles.map((h) => h.signal('poke')));
      await Promise.all(handles.map((h) => h.result()));
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const signals = workflows * pokes;
      const calls = watch?.stats().calls ?? 0;
      worker.shutdown();
      await run;
      watch?.uninstall();
      perSignal[mode].cpuMs.push((cpu.user + cpu.system) / 1000 / signals);
      perSignal[mode].wallMs.push(wall / signals);
      if (watch) perSignal[mode].callsPerSignal.push(calls / signals);
      console.log(`[workflow-calls] round ${round + 1}/${rounds * 2} ${mode}: ${signals} signals, CPU ${((cpu.user + cpu.system) / 1000 / signals).toFixed(3)} ms and wall ${(wall / signals).toFixed(3)} ms per signal${watch ? `, ${(calls / signals).toFixed(1)} watched calls per signal` : ''}`);
    }
  } finally {
    await native.close();
    await connection.close();
    await stack.stop();
  }
  const m = (mode: Mode) => ({ cpuMsPerSignal: +median(perSignal[mode].cpuMs).toFixed(3), wallMsPerSignal: +median(perSignal[mode].wallMs).toFixed(3) });
  const watched = m('main-thread');
  const perCall = m('per-call');
  const ratio = { cpu: +(perCall.cpuMsPerSignal / watched.cpuMsPerSignal).toFixed(2), wall: +(perCall.wallMsPerSignal / watched.wallMsPerSignal).toFixed(2) };
  console.log(`workflow-calls: ${workflows} workflows x ${pokes} signals, ${rounds} rounds each way (medians): main-thread ${JSON.stringify(watched)}; per-call ${JSON.stringify(perCall)}; per-call / main-thread: CPU ${ratio.cpu}, wall ${ratio.wall}`);
  return {
    workflows,
    pokes,
    rounds,
    mainThread: { ...watched, watchedCallsPerSignal: +median(perSignal['main-thread'].callsPerSignal).toFixed(1) },
    perCall,
    ratio,
    rawPerSignal: perSignal,
    passed: ratio.cpu > 1,
  };
}
