/**
 * The dead-letter view through the API on the dev server: a backtest that failed for good (no bars) is listed from
 * Temporal visibility and retried (a reset; the job row goes back to queued and completes once the bars exist); a
 * dead notification is retried, dies again and is resolved; an import that skipped bars can only be resolved.
 * Every act is audited; forged, repeated and malformed requests change nothing.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createCpuActivities } from '../../activities/cpu';
import { createJobActivities } from '../../activities/jobs';
import { getBacktestJob } from '../../db/sql/backtest-jobs';
import { enqueueNotification, getNotification } from '../../db/sql/notifications';
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

interface DeadLetters {
  workflows: Array<{ workflowId: string; runId: string; type: string; status: string; retryable: boolean }>;
  notifications: Array<{ id: string; kind: string }>;
  barImports: Array<{ id: string; rejected: number }>;
}
const list = async () => {
  const res = await h.app.inject({ method: 'GET', url: '/v1/maintenance/dead-letters?limit=200', headers: AUTH.admin });
  expect(res.statusCode).toBe(200);
  return res.json<DeadLetters>();
};
const act = (action: 'retry' | 'resolve', body: Record<string, unknown>, headers = AUTH.admin) =>
  h.app.inject({ method: 'POST', url: `/v1/maintenance/dead-letters/${action}`, headers, payload: body });
const audits = async (subject: string) => (await h.db.query<{ action: string; actor: string }>('SELECT action, actor FROM audit_log WHERE subject = $1 ORDER BY id', [subject])).rows;

/** Workers for one backtest: its workflow on a queue of its own, its activities on the real cpu and io queues. */
async function withBacktestWorkers<T>(queue: string, fn: () => Promise<T>): Promise<T> {
  const signaller = { signal: (id: string, runId: string | undefined, name: string, arg: unknown) => h.deps.temporal.workflow.getHandle(id, runId).signal(name, arg) };
  const workflows = await Worker.create({ connection: native, taskQueue: queue, workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'cpu.js') } });
  const cpu = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.cpu, activities: createCpuActivities({ db: h.db, workflows: signaller }) });
  const io = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.io, activities: createJobActivities({ db: h.db }) });
  return workflows.runUntil(cpu.runUntil(io.runUntil(fn)));
}

async function eventually<T>(fn: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const v = await fn();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('admin only, and malformed requests are 400s naming the field', async () => {
  expect((await h.app.inject({ method: 'GET', url: '/v1/maintenance/dead-letters', headers: AUTH.trader })).statusCode).toBe(403);
  expect((await act('resolve', { kind: 'notification', id: '1', reason: 'x' }, AUTH.viewer)).statusCode).toBe(403);
  const noRun = await act('retry', { kind: 'workflow', id: 'backtest-x', reason: 'try' });
  expect(noRun.statusCode).toBe(400);
  expect(noRun.json<{ error: { issues: Array<{ path: string; message: string }> } }>().error.issues).toEqual([expect.objectContaining({ path: 'runId', message: 'runId is required for a workflow' })]);
  const noReason = await act('resolve', { kind: 'bar-import', id: randomUUID(), reason: '  ' });
  expect(noReason.statusCode).toBe(400);
  expect(JSON.stringify(noReason.json())).toContain('reason is required');
  expect((await act('resolve', { kind: 'queue', id: '1', reason: 'x' })).statusCode).toBe(400);
  expect((await h.app.inject({ method: 'GET', url: '/v1/maintenance/dead-letters?limit=0', headers: AUTH.admin })).statusCode).toBe(400);
});

test('a backtest that failed for good is listed, retried once from the start, and completes once its bars exist', async () => {
  const symbol = uniqueSymbol('DL');
  const queue = `dead-letters-${randomUUID()}`;
  const input = await queuedJob(h.db, symbol, '1d');
  const workflowId = `backtest-${input.jobId}`;
  const handle = await h.deps.temporal.workflow.start('backtestWorkflow', { taskQueue: queue, workflowId, args: [input] });
  await withBacktestWorkers(queue, () => handle.result().catch(() => undefined));
  expect(await getBacktestJob(h.db, input.jobId)).toMatchObject({ status: 'failed' });

  const listed = await eventually(async () => (await list()).workflows.find((w) => w.workflowId === workflowId), 'the failed run in visibility');
  expect(listed).toMatchObject({ runId: handle.firstExecutionRunId, type: 'backtestWorkflow', status: 'FAILED', retryable: true });

  // a resolve or retry naming a run that does not exist changes nothing
  expect((await act('retry', { kind: 'workflow', id: workflowId, runId: randomUUID(), reason: 'forged' })).statusCode).toBe(404);

  await storeBars(h.db, symbol, '1d', syntheticBars(400));
  const retried = await act('retry', { kind: 'workflow', id: workflowId, runId: listed.runId, reason: 'bars imported' });
  expect(retried.statusCode).toBe(200);
  const { newRunId } = retried.json<{ newRunId: string }>();
  expect(newRunId).toMatch(/^[0-9a-f-]{36}$/);
  expect(await getBacktestJob(h.db, input.jobId)).toMatchObject({ status: 'queued', error: null });
  await withBacktestWorkers(queue, () => h.deps.temporal.workflow.getHandle(workflowId, newRunId).result());
  expect(await getBacktestJob(h.db, input.jobId)).toMatchObject({ status: 'completed' });

  // once retried the run leaves the view, and a second retry of it is refused
  expect((await list()).workflows.some((w) => w.workflowId === workflowId)).toBe(false);
  expect((await act('retry', { kind: 'workflow', id: workflowId, runId: listed.runId, reason: 'again' })).statusCode).toBe(409);
  expect(await audits(`workflow:${workflowId}/${listed.runId}`)).toEqual([{ action: 'dead-letter.retried', actor: 'ada' }]);
});

test('a dead notification: retried with fresh attempts, dead again, resolved for good', async () => {
  const { id } = await enqueueNotification(h.db, { kind: 'test.dead_letter', subject: 'undeliverable', dedupeKey: `dead-letter-${randomUUID()}` });
  const kill = () => h.db.query(`UPDATE notifications SET status = 'dead', attempts = 10, last_error = 'HTTP 500' WHERE id = $1`, [id]);
  await kill();
  expect((await list()).notifications.map((n) => n.id)).toContain(id);

  expect((await act('retry', { kind: 'notification', id, reason: 'webhook fixed' })).statusCode).toBe(200);
  expect(await getNotification(h.db, id)).toMatchObject({ status: 'pending', attempts: 0 });
  expect((await act('retry', { kind: 'notification', id, reason: 'twice' })).statusCode).toBe(409); // not dead now
  expect((await list()).notifications.map((n) => n.id)).not.toContain(id);

  await kill();
  expect((await act('resolve', { kind: 'notification', id, reason: 'receiver retired' })).statusCode).toBe(200);
  expect((await list()).notifications.map((n) => n.id)).not.toContain(id);
  expect(await getNotification(h.db, id)).toMatchObject({ status: 'dead' });
  expect((await act('retry', { kind: 'notification', id, reason: 'after all' })).statusCode).toBe(409);
  expect((await act('resolve', { kind: 'notification', id, reason: 'again' })).statusCode).toBe(409);
  expect((await act('resolve', { kind: 'notification', id: '999999999', reason: 'none' })).statusCode).toBe(404);
  expect(await audits(`notification:${id}`)).toEqual([
    { action: 'dead-letter.retried', actor: 'ada' },
    { action: 'dead-letter.resolved', actor: 'ada' },
  ]);
});

test('an import that skipped invalid bars is listed and can be resolved, not retried', async () => {
  const id = randomUUID();
  await h.db.query(`INSERT INTO bar_imports (id, symbol, timeframe, accepted, inserted, duplicates, rejected, imported_by) VALUES ($1, 'DLI', '1d', 97, 97, 0, 3, 'tom')`, [id]);
  expect((await list()).barImports.find((b) => b.id === id)).toMatchObject({ rejected: 3 });
  expect((await act('retry', { kind: 'bar-import', id, reason: 'x' })).statusCode).toBe(409);
  expect((await act('resolve', { kind: 'bar-import', id, reason: 'the source fixed its file' })).statusCode).toBe(200);
  expect((await list()).barImports.some((b) => b.id === id)).toBe(false);
  expect((await act('resolve', { kind: 'bar-import', id, reason: 'again' })).statusCode).toBe(409);
  expect(await audits(`bar-import:${id}`)).toEqual([{ action: 'dead-letter.resolved', actor: 'ada' }]);
});
