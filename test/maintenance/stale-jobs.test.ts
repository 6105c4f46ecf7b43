/**
 * staleJobsWorkflow alone in the time-skipping environment, on a database of its own, asking the test server about
 * each job's workflow through the inspector the IO worker uses (platform/maintenance.ts).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { getBacktestJob, insertBacktestJob } from '../../db/sql/backtest-jobs';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { temporalInspector } from '../../workers/maintenance-deps';
import { staleJobsWorkflow } from '../../workflows/maintenance/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { testStack } from '../helpers/stack';
import { freshDatabase, type FreshDatabase } from './fresh-db';

let env: TestWorkflowEnvironment;
let db: FreshDatabase;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
  db = await freshDatabase('stale');
});

afterAll(async () => {
  await db?.drop();
  await env?.teardown();
});

async function withIoWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createMaintenanceActivities({ db: db.pool, maintenance: { workflows: temporalInspector(env.client), backup: { databaseUrl: db.url, dir: '/nonexistent', keep: 1 } } }),
  });
  return worker.runUntil(fn);
}

async function job(status: 'queued' | 'running', workflowId: string, ageMs: number): Promise<string> {
  const id = randomUUID();
  await insertBacktestJob(db.pool, { id, workflowId, symbol: 'STALE', timeframe: '1d', settings: parseBacktestSettings({ strategy: 'sma-cross', params: { fast: 5, slow: 20 } }), requestedBy: 'test' });
  await db.pool.query(`UPDATE backtest_jobs SET status = $2, created_at = now() - make_interval(secs => $3::float8 / 1000) WHERE id = $1`, [id, status, ageMs]);
  return id;
}

/** A scan row by plain SQL: the sweep reads only its id, workflow id, status and age. */
async function scanJob(workflowId: string, ageMs: number): Promise<string> {
  const id = randomUUID();
  await db.pool.query(
    `INSERT INTO stress_scan_jobs (id, workflow_id, status, type, symbol, timeframe, first_bar_ts, last_bar_ts, bars, spec, params_version, plan, runs_total, requested_by, created_at)
     VALUES ($1, $2, 'running', 'param_scan', 'STALE', '1d', now(), now(), 10, '{}', 'v', '{}', 10, 'test', now() - make_interval(secs => $3::float8 / 1000))`,
    [id, workflowId, ageMs],
  );
  return id;
}

const audits = async (jobId: string) =>
  (await db.pool.query<{ actor: string; detail: Record<string, unknown> }>(`SELECT actor, detail FROM audit_log WHERE action = 'job.failed-stale' AND subject = $1`, [jobId])).rows;

test('fails the backtest and scan jobs whose workflow is gone or closed, with the reason, once; running and young jobs are left alone', async () => {
  const hour = 3_600_000;
  await withIoWorker(async () => {
    // a closed workflow to point a job at: a first sweep, on a database with no jobs yet
    const closedId = `stale-closed-${randomUUID()}`;
    expect(await env.client.workflow.execute(staleJobsWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: closedId, args: [{}] })).toEqual({ checked: 0, failed: [] });
    // a running one: a backtest on the cpu queue, where nothing polls in this environment
    const runningId = `backtest-${randomUUID()}`;
    await env.client.workflow.start('backtestWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: runningId, args: [{}] });

    const gone = await job('queued', `backtest-${randomUUID()}`, hour);
    const closed = await job('running', closedId, hour);
    const running = await job('running', runningId, hour);
    const young = await job('queued', `backtest-${randomUUID()}`, 1_000);
    const scan = await scanJob(`stress-scan-${randomUUID()}`, hour);

    const first = await env.client.workflow.execute(staleJobsWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `stale-${randomUUID()}`, args: [{ olderThanMs: 10 * 60_000 }] });
    expect(first.checked).toBe(4);
    expect(first.failed.map((f) => f.jobId).sort()).toEqual([gone, closed, scan].sort());
    expect(first.failed.find((f) => f.jobId === scan)).toMatchObject({ kind: 'scan' });
    const scanRow = await db.pool.query<{ status: string; error: string }>('SELECT status, error FROM stress_scan_jobs WHERE id = $1', [scan]);
    expect(scanRow.rows[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^stale: workflow stress-scan-.* does not exist/) });

    const goneRow = await getBacktestJob(db.pool, gone);
    expect(goneRow).toMatchObject({ status: 'failed' });
    expect(goneRow!.error).toMatch(/^stale: workflow backtest-.* does not exist .* still queued$/);
    expect(goneRow!.finished_at).toBeInstanceOf(Date);
    expect((await getBacktestJob(db.pool, closed))!.error).toBe(`stale: workflow ${closedId} is COMPLETED but the job was still running`);
    expect(await getBacktestJob(db.pool, running)).toMatchObject({ status: 'running', error: null });
    expect(await getBacktestJob(db.pool, young)).toMatchObject({ status: 'queued', error: null });

    // a second sweep (say, started by hand) changes nothing and writes no second audit row
    const second = await env.client.workflow.execute(staleJobsWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `stale-${randomUUID()}`, args: [{ olderThanMs: 10 * 60_000 }] });
    expect(second).toEqual({ checked: 1, failed: [] });
    for (const id of [gone, closed, scan]) {
      const rows = await audits(id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ actor: 'maintenance', detail: { kind: id === scan ? 'scan' : 'backtest' } });
    }
    expect(await audits(running)).toHaveLength(0);

    // started by hand with a threshold that would catch a job the API is still starting: refused, nothing changes
    const err = await env.client.workflow
      .execute(staleJobsWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `stale-${randomUUID()}`, args: [{ olderThanMs: 1 }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String(((err as WorkflowFailedError).cause?.cause as Error | undefined)?.message)).toMatch(/olderThanMs must be an integer of at least 60000/);
    expect(await getBacktestJob(db.pool, young)).toMatchObject({ status: 'queued' });
    await env.client.workflow.getHandle(runningId).terminate('test done');
  });
});
