import path from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createCpuActivities, type CpuActivities } from '../../activities/cpu';
import { createJobActivities } from '../../activities/jobs';
import type { WorkflowSignaller } from '../../activities/ports';
import { getBacktestJob } from '../../db/sql/backtest-jobs';
import { countBacktestTrades, getBacktestResult } from '../../db/sql/backtest-results';
import { runBacktest } from '../../domain/backtest/engine';
import { backtestProgressQuery } from '../../workflows/backtest/messages';
import { backtestWorkflow } from '../../workflows/backtest/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { queuedJob, storeBars, syntheticBars, testPool, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';

let env: TestWorkflowEnvironment;
let pool: Pool;
const symbol = uniqueSymbol('WF');
const bars = syntheticBars(3_000);

beforeAll(async () => {
  const stack = testStack();
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: stack.TIME_SKIPPING_SERVER } },
  });
  pool = testPool();
  await storeBars(pool, symbol, '1d', bars);
});

afterAll(async () => {
  await pool?.end();
  await env?.teardown();
});

function signaller(): WorkflowSignaller {
  return { signal: (id, runId, name, arg) => env.client.workflow.getHandle(id, runId).signal(name, arg) };
}

/** Runs `fn` while a CPU and an IO worker (real bundles, given activities) poll the test server. */
async function withWorkers<T>(cpuActivities: Partial<CpuActivities>, fn: () => Promise<T>): Promise<T> {
  const bundleDir = testStack().WORKFLOW_BUNDLE_DIR;
  const cpu = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.cpu,
    workflowBundle: { codePath: path.join(bundleDir, 'cpu.js') },
    activities: cpuActivities,
    maxHeartbeatThrottleInterval: '2 seconds', // as the production worker: cancels land promptly
  });
  const io = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, activities: createJobActivities({ db: pool }) });
  return cpu.runUntil(io.runUntil(fn));
}

test('a backtest runs on the CPU queue, persists its result and marks the job completed', async () => {
  const input = await queuedJob(pool, symbol, '1d');
  const handle = await env.client.workflow.start(backtestWorkflow, { taskQueue: TASK_QUEUES.cpu, workflowId: `backtest-${input.jobId}`, args: [input] });
  // Queries need a polling worker, so read the progress before the workers stop.
  const [summary, progress] = await withWorkers(createCpuActivities({ db: pool, workflows: signaller() }), async () => {
    const s = await handle.result();
    return [s, await handle.query(backtestProgressQuery)] as const;
  });

  const expected = runBacktest(bars, input.settings);
  if ('status' in summary) throw new Error(`the start was refused: ${summary.reason}`);
  expect(summary.bars).toBe(3_000);
  expect(summary.trades).toBe(expected.trades.length);
  expect(summary.trades).toBeGreaterThan(10);
  expect(summary.finalEquity).toBeCloseTo(expected.finalEquity, 6);

  const job = await getBacktestJob(pool, input.jobId);
  expect(job?.status).toBe('completed');
  expect(job?.started_at).toBeInstanceOf(Date);
  const result = await getBacktestResult(pool, input.jobId);
  expect(result?.final_equity).toBeCloseTo(expected.finalEquity, 6);
  expect(result?.equity_curve.length).toBeGreaterThan(2);
  expect(await countBacktestTrades(pool, input.jobId)).toBe(expected.trades.length);
  expect(progress).toMatchObject({ phase: 'completed', fraction: 1, barsDone: 3_000 });
});

test('a backtest over a range with no bars fails without retrying and records why', async () => {
  const input = await queuedJob(pool, uniqueSymbol('NONE'), '1d');
  const handle = await env.client.workflow.start(backtestWorkflow, { taskQueue: TASK_QUEUES.cpu, workflowId: `backtest-${input.jobId}`, args: [input] });
  const [outcome, progress] = await withWorkers(createCpuActivities({ db: pool, workflows: signaller() }), async () => {
    const e = await handle.result().catch((err: unknown) => err);
    return [e, await handle.query(backtestProgressQuery)] as const;
  });
  expect(outcome).toBeInstanceOf(WorkflowFailedError);
  const job = await getBacktestJob(pool, input.jobId);
  expect(job?.status).toBe('failed');
  expect(job?.error).toMatch(/no bars for/);
  expect(progress).toMatchObject({ phase: 'failed' });
  // A non-retryable NoBars failure: the activity ran once.
  const history = await handle.fetchHistory();
  expect(history.events?.filter((e) => e.activityTaskStartedEventAttributes).length).toBe(3); // running, runBacktest, finish(failed)
  expect(history.events?.find((e) => e.activityTaskStartedEventAttributes && Number(e.activityTaskStartedEventAttributes.attempt) > 1)).toBeUndefined();
});

test('cancelling a running backtest cancels its activity and marks the job cancelled', async () => {
  const input = await queuedJob(pool, symbol, '1d');
  let activityCancelled = false;
  // A compute activity that only stops when cancelled, so the cancel always lands mid-run.
  const slow: Partial<CpuActivities> = {
    async runBacktest() {
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat({ barsDone: 1, barsTotal: 10 });
        try {
          await Promise.race([ctx.cancelled, ctx.sleep(100)]);
        } catch (err) {
          activityCancelled = true;
          throw err;
        }
      }
    },
  };
  const handle = await env.client.workflow.start(backtestWorkflow, { taskQueue: TASK_QUEUES.cpu, workflowId: `backtest-${input.jobId}`, args: [input] });
  const [outcome, progress] = await withWorkers(slow, async () => {
    for (let i = 0; i < 100 && (await handle.query(backtestProgressQuery)).phase !== 'running'; i++) await new Promise((r) => setTimeout(r, 100));
    await handle.cancel();
    const e = await handle.result().catch((err: unknown) => err);
    return [e, await handle.query(backtestProgressQuery)] as const;
  });
  expect(outcome).toBeInstanceOf(WorkflowFailedError);
  expect(activityCancelled).toBe(true);
  expect((await getBacktestJob(pool, input.jobId))?.status).toBe('cancelled');
  expect(progress).toMatchObject({ phase: 'cancelled' });
});
