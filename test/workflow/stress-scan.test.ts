import path from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createCpuActivities, type CpuActivities } from '../../activities/cpu';
import { createJobActivities } from '../../activities/jobs';
import type { WorkflowSignaller } from '../../activities/ports';
import { batchStats } from '../../db/sql/stress-scan-batches';
import { getScanJob } from '../../db/sql/stress-scan-jobs';
import { stressScanProgressQuery, type StressScanWorkflowInput } from '../../workflows/stress-scan/messages';
import { stressScanWorkflow } from '../../workflows/stress-scan/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, syntheticBars, testPool, uniqueSymbol } from '../helpers/db';
import { localDocument, queuedScan, storedDocument } from '../helpers/scans';
import { testStack } from '../helpers/stack';
import { runWorkers } from '../helpers/workers';

/**
 * The stress-scan workflow on the time-skipping server with real activities on real Postgres: batches, ranking,
 * walk-forward, Monte Carlo and black swan against the in-process scan (the same document, to the character),
 * continue-as-new, a failed batch retried, cancel.
 */
let env: TestWorkflowEnvironment;
let pool: Pool;
const symbol = uniqueSymbol('SCAN');
const bars = syntheticBars(3_000);
const settings = { strategy: 'sma-cross', commissionRate: 0.0005 };
// 2,500 cells of 3,000 bars: three batches at the product's sizes (1,000 runs), well under a second of compute
const grid = { fast: { from: 2, to: 51, step: 1 }, slow: { from: 60, to: 109, step: 1 } };

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
  pool = testPool();
  await storeBars(pool, symbol, '1d', bars);
});

afterAll(async () => {
  await pool?.end();
  await env?.teardown();
});

const signaller = (): WorkflowSignaller => ({ signal: (id, runId, name, arg) => env.client.workflow.getHandle(id, runId).signal(name, arg) });
const realActivities = () => createCpuActivities({ db: pool, workflows: signaller() });

/** Runs `fn` while a CPU worker (real bundle, given activities) and an IO worker poll the test server; both stop even if the test times out. */
async function withWorkers<T>(cpuActivities: Partial<CpuActivities>, fn: () => Promise<T>): Promise<T> {
  const cpu = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.cpu,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'cpu.js') },
    activities: cpuActivities,
    maxHeartbeatThrottleInterval: '2 seconds',
  });
  const io = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, activities: createJobActivities({ db: pool }) });
  return runWorkers(env.client, [cpu, io], fn);
}

function start(workflowId: string, input: StressScanWorkflowInput) {
  return env.client.workflow.start(stressScanWorkflow, { taskQueue: TASK_QUEUES.cpu, workflowId, args: [input] });
}

test('a grid runs in batches and ranks its cells exactly as the in-process scan does', async () => {
  const spec = { settings, grid, objective: 'sharpe', maxDrawdown: 0.3 };
  const job = await queuedScan(pool, { symbol, timeframe: '1d', spec });
  expect(job.plan).toMatchObject({ batches: 3, runsTotal: 2_500, stages: [{ stage: 'cells', runs: 2_500, batchRuns: 1_000 }] });
  const handle = await start(job.workflowId, { jobId: job.jobId });
  const [summary, progress] = await withWorkers(realActivities(), async () => [await handle.result(), await handle.query(stressScanProgressQuery)] as const);

  expect(await storedDocument(pool, job.jobId)).toBe(localDocument(bars, job.scan, symbol, '1d'));
  expect(summary).toMatchObject({ runs: 2_500, cells: 2_500, best: { cell: expect.any(Number) } });
  expect(progress).toMatchObject({ phase: 'completed', runsDone: 2_500, runsTotal: 2_500, fraction: 1, batchesDone: 3, batchesTotal: 3, workflowRuns: 1 });
  const row = await getScanJob(pool, job.jobId);
  expect(row).toMatchObject({ status: 'completed', runs_done: 2_500, runs_total: 2_500 });
  // bars loaded once by the worker process for three batches and the final step
  expect(await batchStats(pool, job.jobId)).toMatchObject({ attempts: 3, unfinished: 0, computing: 2_500, inserted: 2_500, skipped: 0, barLoads: 1 });
});

test('walk-forward in many small batches continues as new within its history budget and gives the in-process folds', async () => {
  const spec = { type: 'optimization', settings, grid: { period: { from: 5, to: 44, step: 1 } }, walkForward: { trainBars: 500, testBars: 250, warmupBars: 0 } };
  const job = await queuedScan(pool, { symbol, timeframe: '1d', spec }, { batchRuns: 10 });
  expect(job.plan.stages.map((s) => [s.stage, s.runs])).toEqual([['cells', 40], ['train', 400]]);
  expect(job.plan.batches).toBe(44);
  const handle = await start(job.workflowId, { jobId: job.jobId, historyBudget: 100 });
  const progress = await withWorkers(realActivities(), async () => {
    await handle.result();
    return handle.query(stressScanProgressQuery);
  });
  expect(await storedDocument(pool, job.jobId)).toBe(localDocument(bars, job.scan, symbol, '1d'));
  expect(progress.workflowRuns).toBeGreaterThan(1);
  expect(progress).toMatchObject({ phase: 'completed', runsDone: 450, runsTotal: 450 });
  // every run of the chain stays within the budget (plus the batches in flight when it stopped scheduling)
  const sizes = await historySizes(job.workflowId, (await handle.describe()).runId);
  expect(sizes).toHaveLength(progress.workflowRuns);
  for (const n of sizes) expect(n).toBeLessThan(160);
});

/** Events in each run of a continue-as-new chain, latest first. */
async function historySizes(workflowId: string, lastRunId: string): Promise<number[]> {
  const sizes: number[] = [];
  for (let runId: string | undefined = lastRunId; runId; ) {
    const events: Array<{ workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string | null } | null }> =
      (await env.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    sizes.push(events.length);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return sizes;
}

test('Monte Carlo paths and black-swan shocks in batches equal the in-process scan', async () => {
  const mcSpec = { type: 'monte_carlo', settings: { ...settings, params: { fast: 10, slow: 30 } }, monteCarlo: { paths: 120, seed: 3, blockBars: 15 } };
  const bsSpec = { type: 'black_swan', settings: { ...settings, params: { fast: 10, slow: 30 }, slippageBps: 4 }, blackSwan: { shocks: [{ kind: 'gap', pct: 0.15, at: 1_500 }, { kind: 'volatility', factor: 2, from: 900, to: 1_100 }, { kind: 'slippage', factor: 3 }] } };
  const mc = await queuedScan(pool, { symbol, timeframe: '1d', spec: mcSpec }, { batchRuns: 50 });
  const bs = await queuedScan(pool, { symbol, timeframe: '1d', spec: bsSpec }, { batchRuns: 1 });
  expect(mc.plan.stages).toEqual([{ stage: 'paths', runs: 120, batchRuns: 50 }]);
  expect(bs.plan.stages).toEqual([{ stage: 'shocks', runs: 3, batchRuns: 1 }]);
  const handles = [await start(mc.workflowId, { jobId: mc.jobId }), await start(bs.workflowId, { jobId: bs.jobId })];
  // One result() at a time: each unlocks time skipping until it returns, and two at once unbalance the test server's
  // lock count (it skips time under a running task, then fails a completion with its whole lock history, > 16 KB).
  await withWorkers(realActivities(), async () => {
    for (const h of handles) await h.result();
  });
  expect(await storedDocument(pool, mc.jobId)).toBe(localDocument(bars, mc.scan, symbol, '1d'));
  expect(await storedDocument(pool, bs.jobId)).toBe(localDocument(bars, bs.scan, symbol, '1d'));
});

test('a batch that fails after storing its runs is retried, skips them, and the ranking is unchanged', async () => {
  // 1,500 cells in three batches of 500 (fewer cells than the first test's grid do): the middle one fails after storing its runs
  const spec = { settings, grid: { ...grid, fast: { from: 2, to: 31, step: 1 } }, objective: 'net-profit' };
  const job = await queuedScan(pool, { symbol, timeframe: '1d', spec }, { batchRuns: 500 });
  expect(job.plan).toMatchObject({ batches: 3, runsTotal: 1_500 });
  const real = realActivities();
  const failed: number[] = [];
  const flaky: Partial<CpuActivities> = {
    ...real,
    async runStressScanBatch(input) {
      const result = await real.runStressScanBatch(input);
      if (input.from === 500 && Context.current().info.attempt === 1) {
        failed.push(input.from);
        throw new Error('the connection dropped before the answer reached Temporal');
      }
      return result;
    },
  };
  const handle = await start(job.workflowId, { jobId: job.jobId });
  await withWorkers(flaky, () => handle.result());
  expect(failed).toEqual([500]);
  expect(await storedDocument(pool, job.jobId)).toBe(localDocument(bars, job.scan, symbol, '1d'));
  // the retry found all 500 runs stored and computed none of them again
  expect(await batchStats(pool, job.jobId)).toMatchObject({ attempts: 4, unfinished: 0, computing: 1_500, inserted: 1_500, skipped: 500 });
  const attempts = ((await handle.fetchHistory()).events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt).filter((a) => a !== undefined && a !== null);
  expect(attempts.filter((a) => a === 2)).toHaveLength(1);
});

test('cancelling a running scan cancels its batches and marks the job cancelled', async () => {
  const job = await queuedScan(pool, { symbol, timeframe: '1d', spec: { settings, grid } }, { batchRuns: 500 });
  let cancelled = 0;
  // batches that only stop when cancelled, so the cancel always lands mid-batch
  const slow: Partial<CpuActivities> = {
    async runStressScanBatch() {
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat();
        try {
          await Promise.race([ctx.cancelled, ctx.sleep(100)]);
        } catch (err) {
          cancelled++;
          throw err;
        }
      }
    },
  };
  const handle = await start(job.workflowId, { jobId: job.jobId, maxInFlight: 3 });
  const [outcome, progress] = await withWorkers(slow, async () => {
    for (let i = 0; i < 100 && (await handle.query(stressScanProgressQuery)).batchesInFlight < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await handle.cancel();
    const e = await handle.result().catch((err: unknown) => err);
    return [e, await handle.query(stressScanProgressQuery)] as const;
  });
  expect(outcome).toBeInstanceOf(WorkflowFailedError);
  expect(cancelled).toBeGreaterThanOrEqual(2);
  expect(progress).toMatchObject({ phase: 'cancelled', batchesInFlight: 0, batchesDone: 0 });
  expect((await getScanJob(pool, job.jobId))?.status).toBe('cancelled');
});
