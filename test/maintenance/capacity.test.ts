/**
 * The capacity report through the API on the dev server, with a real backlog: a backtest queued while no CPU worker
 * runs waits, and the advice says so; once a CPU worker (with its heartbeat) runs, the backlog drains, the worker's
 * CPU and memory show, and the CPU advice is gone. The rules themselves: test/unit/capacity.test.ts.
 */
import os from 'node:os';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createCpuActivities } from '../../activities/cpu';
import { createJobActivities } from '../../activities/jobs';
import { startWorkerHeartbeat } from '../../platform/heartbeat';
import type { CapacityReport } from '../../services/capacity';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { AUTH, startApi, type ApiHarness } from '../api/harness';
import { queuedJob, storeBars, syntheticBars, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';

let h: ApiHarness;
let native: NativeConnection;

beforeAll(async () => {
  h = await startApi();
  native = await NativeConnection.connect({ address: testStack().TEMPORAL_ADDRESS });
});

afterAll(async () => {
  await native?.close();
  await h?.close();
});

const report = async () => {
  const res = await h.app.inject({ method: 'GET', url: '/v1/maintenance/capacity', headers: AUTH.admin });
  expect(res.statusCode).toBe(200);
  return res.json<CapacityReport>();
};
const cpuOf = (r: CapacityReport) => r.queues.find((q) => q.queue === 'cpu')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a backtest waiting for a CPU worker shows as backlog and wait, with the advice to add one; a worker drains it', async () => {
  expect((await h.app.inject({ method: 'GET', url: '/v1/maintenance/capacity', headers: AUTH.trader })).statusCode).toBe(403);
  const symbol = uniqueSymbol('CAP');
  await storeBars(h.db, symbol, '1d', syntheticBars(300));
  const input = await queuedJob(h.db, symbol, '1d');
  const handle = await h.deps.temporal.workflow.start('backtestWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: `backtest-${input.jobId}`, args: [input] });

  let waiting = await report();
  for (let i = 0; i < 40 && cpuOf(waiting).backlogAgeMs < 11_000; i++) {
    await sleep(500);
    waiting = await report();
  }
  const cpu = cpuOf(waiting);
  expect(cpu.backlog).toBeGreaterThanOrEqual(1);
  expect(cpu.workflowTasks.backlog).toBeGreaterThanOrEqual(1);
  expect(cpu.backlogAgeMs).toBeGreaterThanOrEqual(11_000);
  expect(cpu.workers).toEqual([]);
  const line = waiting.advice.find((a) => a.startsWith('backtests and scans'));
  expect(line).toMatch(/^backtests and scans wait (1[1-9]|[2-9]\d) s to start \(\d+ queued\)(: add a CPU worker| and no CPU worker is alive: start a CPU worker)$/);
  console.log(`capacity advice with no CPU worker: ${line}`);

  const identity = `cpu-capacity-test@${os.hostname()}`;
  const beat = startWorkerHeartbeat(h.redis, TASK_QUEUES.cpu, identity, () => undefined);
  const signaller = { signal: (id: string, runId: string | undefined, name: string, arg: unknown) => h.deps.temporal.workflow.getHandle(id, runId).signal(name, arg) };
  const worker = await Worker.create({
    connection: native, taskQueue: TASK_QUEUES.cpu, identity, workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'cpu.js') }, activities: createCpuActivities({ db: h.db, workflows: signaller }),
  });
  const io = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.io, activities: createJobActivities({ db: h.db }) });
  try {
    const drained = await worker.runUntil(
      io.runUntil(async () => {
        await handle.result();
        await sleep(10_500); // the heartbeat's next beat carries CPU use measured over an interval
        return report();
      }),
    );
    const after = cpuOf(drained);
    expect(after.backlog).toBe(0);
    expect(after.workers).toEqual([expect.objectContaining({ identity, rssBytes: expect.any(Number), hostMemBytes: os.totalmem() })]);
    expect(after.workers[0]!.cpuPct).toEqual(expect.any(Number));
    expect(drained.advice.some((a) => a.includes('CPU worker') || a.startsWith('backtests and scans'))).toBe(false);
  } finally {
    await beat.stop();
  }
});
