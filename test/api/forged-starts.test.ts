import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createCpuActivities } from '../../activities/cpu';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { openApprovalRequest } from '../../harness/fixtures/approvals';
import { storeFlatBars } from '../../harness/fixtures/bars';
import { temporalCliPath } from '../../harness/stack/temporal';
import { deploymentWorkflowId } from '../../workflows/workflow-ids';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, syntheticBars, uniqueSymbol, lastCycle } from '../helpers/db';
import { queuedScan } from '../helpers/scans';
import { testStack } from '../helpers/stack';
import { AUTH, type ApiHarness } from './harness';
import { auditRows, eventually, ledgerRows, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * Workflows started by hand, with a plain Temporal client and the `temporal` CLI, bypassing the API: a made-up
 * deployment, backtest, stress scan or approval, a real one's id under another workflow id, a real one's own id
 * started again after it ended or in its place, and a second notification dispatcher. Each checks at its start that
 * the API recorded it (activities/start-checks.ts, activities/jobs.ts) and ends at once: the workflow completes with a
 * `refused` result, its history shows nothing but the check, nothing is ordered, the real rows do not move, and it
 * leaves exactly one `<kind>.start.forged` audit row. The positive controls: an approval started under its own
 * workflow id with a tampered input places the order its row records, not the input's; a stress scan started under
 * its own workflow id with a forged resume runs its whole recorded plan.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;
let plain: Client;
let cpuConnection: NativeConnection;
let cpu: { worker: Worker; run: Promise<void> };
const hand: WorkflowHandle[] = [];
const run = promisify(execFile);

beforeAll(async () => {
  rt = await startRuntimeHarness('fstart');
  ({ h, pool } = rt);
  // A plain client: no API, nothing recorded; what anyone with Temporal access holds.
  plain = new Client({ connection: h.connection, namespace: testStack().TEMPORAL_NAMESPACE });
  cpuConnection = await NativeConnection.connect({ address: testStack().TEMPORAL_ADDRESS });
  const signaller = { signal: (id: string, runId: string | undefined, name: string, arg: unknown) => plain.workflow.getHandle(id, runId).signal(name, arg) };
  const worker = await Worker.create({
    connection: cpuConnection,
    namespace: testStack().TEMPORAL_NAMESPACE,
    taskQueue: TASK_QUEUES.cpu,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'cpu.js') },
    activities: createCpuActivities({ db: pool, workflows: signaller }),
  });
  cpu = { worker, run: worker.run() };
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(hand.map((x) => x.terminate('test cleanup')));
  cpu?.worker.shutdown();
  await cpu?.run.catch(() => undefined);
  await cpuConnection?.close();
  await rt?.close();
});

/** A workflow started by hand through the plain client. */
async function startByHand(type: string, opts: { workflowId: string; taskQueue?: string; args: unknown[]; conflict?: 'TERMINATE_EXISTING'; reuse?: 'ALLOW_DUPLICATE' }): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const handle = await plain.workflow.start(type, {
    taskQueue: opts.taskQueue ?? TASK_QUEUES.io,
    workflowId: opts.workflowId,
    args: opts.args,
    ...(opts.conflict ? { workflowIdConflictPolicy: opts.conflict } : {}),
    ...(opts.reuse ? { workflowIdReusePolicy: opts.reuse } : {}),
  });
  hand.push(handle);
  return handle;
}

/** The `temporal` CLI against the test server. */
async function cli(args: string[]): Promise<string> {
  const stack = testStack();
  const { stdout } = await run(temporalCliPath(), [...args, '--address', stack.TEMPORAL_ADDRESS, '--namespace', stack.TEMPORAL_NAMESPACE], { timeout: 30_000 });
  return stdout;
}

/** What a run did: the activities it scheduled, its local activities, and whether a task ever failed. */
async function didNothingBut(handle: WorkflowHandleWithFirstExecutionRunId, check: string): Promise<void> {
  const events = (await plain.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory()).events ?? [];
  const activities = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
  const local = events.flatMap((e) => {
    const p = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0];
    return p ? [defaultPayloadConverter.fromPayload<{ activity_type: string }>(p).activity_type] : [];
  });
  const kinds = new Set(events.flatMap((e) => Object.keys(e).filter((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e])));
  // the check itself is the one step: a local activity, or (a backtest or a stress scan, whose check is on the IO queue) an activity
  expect([...activities, ...local]).toEqual([check]);
  expect([...kinds].filter((k) => /timer|childWorkflow|signalExternal|continuedAsNew|workflowTaskFailed/i.test(k))).toEqual([]);
  expect((await handle.describe()).status.name).toBe('COMPLETED');
}

const forgedRows = async (subject: string) => (await auditRows(pool, subject)).filter((a) => a.action.endsWith('.start.forged'));

/**
 * Waits until the real run has passed its start check and claimed its workflow id. A chain started in its place
 * before that (TerminateExisting) would find the claim free and be the one run of the record, working from the row
 * as the real one would: the "started by another run" case needs the claim taken first.
 */
const claimed = (workflowId: string) =>
  eventually(`${workflowId} claimed`, async () => (await pool.query('SELECT 1 FROM workflow_starts WHERE workflow_id = $1', [workflowId])).rowCount, (n) => n === 1);

async function deploymentRow(id: string) {
  const { rows } = await pool.query('SELECT status, status_reason, params_version, spec, replay_clock, workflow_id, updated_at FROM deployments WHERE id = $1', [id]);
  return rows[0];
}

test('deploymentWorkflow started by hand: a made-up deployment, a real one under another workflow id, a stopped one again and one in place of the running runtime are refused; nothing trades and the real rows stay as they were', async () => {
  const symbol = uniqueSymbol('FST');
  await rt.storePath(symbol, Array.from({ length: 900 }, (_, i) => 100 + i * 0.05)); // rising: a real runtime would buy
  const real = await rt.createDeployment(symbol, {});
  const replaced = await rt.createDeployment(symbol, {});
  const stopped = await rt.createDeployment(symbol, {});
  await eventually('cycling', () => lastCycle(pool, real.id), (c) => c >= 2);
  await claimed(replaced.workflowId);
  expect(await rt.stop(stopped.id)).toBe(202);
  await h.deps.temporal.workflow.getHandle(stopped.workflowId).result();
  const rowsBefore = { real: await deploymentRow(real.id), replaced: await deploymentRow(replaced.id), stopped: await deploymentRow(stopped.id) };
  const ledgerBefore = (await ledgerRows(pool, real.id)).length;

  // A spec of one's own: the real symbol, a big fixed quantity, no limits to speak of.
  const forgedSpec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { fast: 2, slow: 3 }, symbols: [symbol], timeframe: '1m', accountId: rt.account, broker: 'paper', quantity: 1000,
    calendar: '24x7', settleDelayMs: 0, riskLimits: { maxExposure: 1e9, maxPositionQty: 1e6 },
  });
  const madeUp = randomUUID();
  const cases = [
    { subject: madeUp, reason: /no deployment .* was recorded/, handle: await startByHand('deploymentWorkflow', { workflowId: deploymentWorkflowId(madeUp), args: [{ deploymentId: madeUp, spec: forgedSpec, paramsVersion: 1 }] }) },
    { subject: real.id, reason: /runs as workflow deployment-/, handle: await startByHand('deploymentWorkflow', { workflowId: `evil-${randomUUID()}`, args: [{ deploymentId: real.id, spec: forgedSpec, paramsVersion: 1 }] }) },
    { subject: stopped.id, reason: /is stopped/, handle: await startByHand('deploymentWorkflow', { workflowId: stopped.workflowId, reuse: 'ALLOW_DUPLICATE', args: [{ deploymentId: stopped.id, spec: forgedSpec, paramsVersion: 1 }] }) },
    // Temporal lets a hand end the real runtime and start another in its place; the new chain finds the claim taken.
    { subject: replaced.id, reason: /was started by another run/, handle: await startByHand('deploymentWorkflow', { workflowId: replaced.workflowId, conflict: 'TERMINATE_EXISTING', args: [{ deploymentId: replaced.id, spec: forgedSpec, paramsVersion: 1 }] }) },
  ];
  for (const c of cases) {
    await expect(c.handle.result()).resolves.toEqual({ status: 'refused', reason: expect.stringMatching(c.reason) });
    await didNothingBut(c.handle, 'verifyDeploymentStart');
  }

  // One audit row each, naming the run, why, and what its input carried.
  for (const c of cases) {
    const rows = await forgedRows(c.subject);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'runtime', action: 'deployment.start.forged', detail: { workflowId: c.handle.workflowId, reason: expect.stringMatching(c.reason), input: expect.stringContaining('"quantity":1000') } });
  }
  // Nothing was written for the made-up deployment, and nothing was ordered under a forged workflow id.
  expect((await pool.query('SELECT 1 FROM deployments WHERE id = $1', [madeUp])).rows).toEqual([]);
  expect((await pool.query('SELECT 1 FROM deployment_cycles WHERE deployment_id = $1', [madeUp])).rows).toEqual([]);
  expect((await pool.query('SELECT 1 FROM order_ledger WHERE workflow_id = ANY($1::text[]) OR deployment_id = $2', [cases.map((c) => c.handle.workflowId), madeUp])).rows).toEqual([]);
  // The real rows did not move (the replaced runtime was ended by Temporal, not by the forged run).
  expect({ real: await deploymentRow(real.id), replaced: await deploymentRow(replaced.id), stopped: await deploymentRow(stopped.id) }).toEqual(rowsBefore);
  // The real runtime keeps cycling on its own spec (params v1, its own workflow), placing only its own orders.
  const cycle = await lastCycle(pool, real.id);
  await eventually('still cycling', () => lastCycle(pool, real.id), (c) => c >= cycle + 2);
  expect(await rt.state(real.workflowId)).toMatchObject({ status: 'running', paramsVersion: 1 });
  const orders = await pool.query<{ workflow_id: string; qty: number }>('SELECT workflow_id, qty::float8 AS qty FROM order_ledger WHERE deployment_id = $1', [real.id]);
  expect(orders.rows.length).toBeGreaterThanOrEqual(ledgerBefore);
  expect(orders.rows.every((o) => o.workflow_id === real.workflowId && o.qty < 1000)).toBe(true);
  expect(await rt.stop(real.id)).toBe(202);
}, 180_000);

test('the same through the temporal CLI: a real deployment id under another workflow id is refused with one audit row', async () => {
  const symbol = uniqueSymbol('FSC');
  await rt.storePath(symbol, Array.from({ length: 900 }, (_, i) => 100 - i * 0.01));
  const real = await rt.createDeployment(symbol, {});
  await eventually('cycling', () => lastCycle(pool, real.id), (c) => c >= 1);
  const before = await deploymentRow(real.id);
  const workflowId = `cli-${randomUUID()}`;
  const input = { deploymentId: real.id, spec: { strategy: 'sma-cross', symbols: [symbol], quantity: 5000 }, paramsVersion: 7 };
  await cli(['workflow', 'start', '--type', 'deploymentWorkflow', '--task-queue', TASK_QUEUES.io, '--workflow-id', workflowId, '--input', JSON.stringify(input)]);
  const handle = plain.workflow.getHandle(workflowId);
  hand.push(handle);
  await expect(handle.result()).resolves.toEqual({ status: 'refused', reason: expect.stringMatching(/runs as workflow deployment-/) });
  const rows = await forgedRows(real.id);
  expect(rows).toHaveLength(1);
  expect(rows[0]!.detail).toMatchObject({ workflowId, input: expect.stringContaining('"quantity":5000') });
  expect(await deploymentRow(real.id)).toEqual(before);
  expect((await pool.query('SELECT 1 FROM order_ledger WHERE workflow_id = $1', [workflowId])).rows).toEqual([]);
  expect(await rt.stop(real.id)).toBe(202);
}, 120_000);

test('backtestWorkflow started by hand: a real job under another workflow id, the job\'s own id again once done, and a made-up job write nothing into any job', async () => {
  const symbol = uniqueSymbol('FSB');
  await storeBars(pool, symbol, '1d', syntheticBars(400));
  const post = await h.app.inject({ method: 'POST', url: '/v1/backtests', headers: AUTH.trader, payload: { symbol, timeframe: '1d', strategy: 'sma-cross', params: { fast: 5, slow: 20 }, quantity: 1 } });
  expect(post.statusCode).toBe(202);
  const job = post.json<{ id: string; workflowId: string }>();
  await h.deps.temporal.workflow.getHandle(job.workflowId).result();
  const snapshot = async () => ({
    job: (await pool.query('SELECT status, error, settings, started_at, finished_at FROM backtest_jobs WHERE id = $1', [job.id])).rows[0],
    result: (await pool.query('SELECT final_equity, metrics, assumptions FROM backtest_results WHERE job_id = $1', [job.id])).rows[0],
    trades: (await pool.query('SELECT count(*)::int AS n, sum(price * qty)::float8 AS turnover FROM backtest_trades WHERE job_id = $1', [job.id])).rows[0],
  });
  const before = await snapshot();
  expect(before.job.status).toBe('completed');

  // Other settings, a different window: a run of these would write other trades and another result.
  const forged = (jobId: string) => ({ jobId, symbol, timeframe: '1d', settings: { strategy: 'sma-cross', params: { fast: 2, slow: 3 }, initialCash: 1e9, sizing: { mode: 'fixed-quantity', quantity: 500 } } });
  const madeUp = randomUUID();
  const cases = [
    { subject: job.id, reason: /runs as workflow backtest-/, handle: await startByHand('backtestWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: `backtest-${randomUUID()}`, args: [forged(job.id)] }) },
    { subject: job.id, reason: /is completed/, handle: await startByHand('backtestWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: job.workflowId, args: [forged(job.id)] }) },
    { subject: madeUp, reason: /no backtest job .* was recorded/, handle: await startByHand('backtestWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: `backtest-${madeUp}`, args: [forged(madeUp)] }) },
  ];
  for (const c of cases) {
    await expect(c.handle.result()).resolves.toEqual({ status: 'refused', reason: expect.stringMatching(c.reason) });
    await didNothingBut(c.handle, 'startBacktestJob');
  }
  expect(await snapshot()).toEqual(before);
  expect((await pool.query('SELECT 1 FROM backtest_jobs WHERE id = $1', [madeUp])).rows).toEqual([]);
  expect((await forgedRows(job.id)).map((r) => r.detail.workflowId).sort()).toEqual([cases[0]!.handle.workflowId, cases[1]!.handle.workflowId].sort());
  expect(await forgedRows(madeUp)).toHaveLength(1);
}, 120_000);

test('stressScanWorkflow started by hand: a real job under another workflow id, the job\'s own id again once done and a made-up job write nothing into any job; a forged resume is never read', async () => {
  const symbol = uniqueSymbol('FSS');
  await storeBars(pool, symbol, '1d', syntheticBars(600));
  const spec = { settings: { strategy: 'sma-cross' }, grid: { fast: [5, 10], slow: [30, 60] } };
  const post = await h.app.inject({ method: 'POST', url: '/v1/stress-scans', headers: AUTH.trader, payload: { symbol, timeframe: '1d', ...spec } });
  expect(post.statusCode).toBe(202);
  const job = post.json<{ id: string; workflowId: string; runsTotal: number }>();
  await h.deps.temporal.workflow.getHandle(job.workflowId).result();
  const snapshot = async (id: string) => ({
    job: (await pool.query('SELECT status, error, runs_done, result::text AS result, started_at, finished_at FROM stress_scan_jobs WHERE id = $1', [id])).rows[0],
    cells: (await pool.query('SELECT count(*)::int AS n, sum(final_equity)::float8 AS equity, array_agg(rank ORDER BY cell) AS ranks FROM stress_scan_cells WHERE job_id = $1', [id])).rows[0],
    attempts: (await pool.query('SELECT count(*)::int AS n FROM stress_scan_batches WHERE job_id = $1', [id])).rows[0],
  });
  const before = await snapshot(job.id);
  expect(before.job.status).toBe('completed');

  // A resume that claims every batch done: a run that read it would go straight to the final step.
  const forged = (jobId: string) => ({ jobId, label: 'forged', maxInFlight: 32, resume: { plan: { stages: [], batches: 0, runsTotal: 0 }, nextBatch: 99, runsDone: 99, runs: 7 } });
  const madeUp = randomUUID();
  const cases = [
    { subject: job.id, reason: /runs as workflow stress-scan-/, handle: await startByHand('stressScanWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: `stress-scan-${randomUUID()}`, args: [forged(job.id)] }) },
    { subject: job.id, reason: /is completed/, handle: await startByHand('stressScanWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: job.workflowId, reuse: 'ALLOW_DUPLICATE', args: [forged(job.id)] }) },
    { subject: madeUp, reason: /no stress scan job .* was recorded/, handle: await startByHand('stressScanWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: `stress-scan-${madeUp}`, args: [forged(madeUp)] }) },
  ];
  for (const c of cases) {
    await expect(c.handle.result()).resolves.toEqual({ status: 'refused', reason: expect.stringMatching(c.reason) });
    await didNothingBut(c.handle, 'startStressScanJob');
  }
  expect(await snapshot(job.id)).toEqual(before);
  expect((await pool.query('SELECT 1 FROM stress_scan_jobs WHERE id = $1', [madeUp])).rows).toEqual([]);
  // the runs are refused concurrently: their rows in any order
  expect((await forgedRows(job.id)).map((r) => r.detail.workflowId).sort()).toEqual([cases[0]!.handle.workflowId, cases[1]!.handle.workflowId].sort());
  expect((await forgedRows(madeUp))[0]).toMatchObject({ action: 'stress-scan.start.forged', detail: { input: expect.stringContaining('"nextBatch":99') } });

  // The positive control: a job recorded as the API records it, its workflow started by hand under its own id with
  // the forged resume, runs the job's whole plan from its first batch; its cells are those of the API's scan.
  const queued = await queuedScan(pool, { symbol, timeframe: '1d', spec });
  const own = await startByHand('stressScanWorkflow', { taskQueue: TASK_QUEUES.cpu, workflowId: queued.workflowId, args: [forged(queued.jobId)] });
  await expect(own.result()).resolves.toMatchObject({ runs: job.runsTotal, cells: 4 });
  const ran = await snapshot(queued.jobId);
  expect(ran.job).toMatchObject({ status: 'completed', runs_done: job.runsTotal });
  expect(ran.cells).toEqual(before.cells);
}, 120_000);

test('tradeApprovalWorkflow started by hand: its input\'s intent never counts; a real request under another workflow id, a made-up one and one in place of the running workflow are refused', async () => {
  const symbol = uniqueSymbol('FSA');
  const now = Date.now();
  await storeFlatBars(pool, symbol, now - 60 * 60_000, now + 120 * 60_000, 100);
  await new PaperBrokerAdmin(rt.paper.url).setPrices({ [symbol]: 100 });
  const open = (start: boolean) => openApprovalRequest({ pool, client: h.deps.temporal, accountId: rt.account, symbol, requester: 'tom', price: 100, expiresAtMs: Date.now() + 10 * 60_000, start });
  const intent = { symbol, side: 'sell', qty: 1000, price: 100, reason: 'signal' };
  const tampered = (approvalId: string) => ({ approvalId, intent, riskLimits: { maxExposure: 1e12, maxPositionQty: 1e9 }, breaker: 'none', expiresAtMs: Date.now() + 86_400_000 });

  // The positive control: a request whose workflow is started by hand under its own id, with a tampered input, is
  // the request its row records. Approved through the API, it places the row's order (buy 1), not the input's.
  const own = await open(false);
  const ownHandle = await startByHand('tradeApprovalWorkflow', { workflowId: own.workflowId, args: [tampered(own.approvalId)] });
  const approved = await h.app.inject({ method: 'POST', url: `/v1/approvals/${own.approvalId}/approve`, headers: AUTH.approver, payload: { reason: 'checked' } });
  expect(approved.json()).toMatchObject({ status: 'approved' });
  await expect(ownHandle.result()).resolves.toMatchObject({ status: 'executed', clientOrderId: own.clientOrderId });
  expect(await ledgerRows(pool, own.deploymentId)).toEqual([expect.objectContaining({ client_order_id: own.clientOrderId, side: 'buy' })]);
  expect((await pool.query('SELECT qty::float8 AS qty FROM order_ledger WHERE client_order_id = $1', [own.clientOrderId])).rows[0]).toEqual({ qty: 1 });

  const pending = await open(true);
  await claimed(pending.workflowId);
  const rowBefore = (await pool.query('SELECT status, qty, side, decided_at, client_order_id, updated_at FROM approvals WHERE id = $1', [pending.approvalId])).rows[0];
  const madeUp = randomUUID();
  const cases = [
    { subject: pending.approvalId, reason: /runs as workflow approval-/, handle: await startByHand('tradeApprovalWorkflow', { workflowId: `approval-${randomUUID()}`, args: [tampered(pending.approvalId)] }) },
    { subject: madeUp, reason: /no approval .* was recorded/, handle: await startByHand('tradeApprovalWorkflow', { workflowId: `approval-${madeUp}`, args: [tampered(madeUp)] }) },
    { subject: pending.approvalId, reason: /was started by another run/, handle: await startByHand('tradeApprovalWorkflow', { workflowId: pending.workflowId, conflict: 'TERMINATE_EXISTING', args: [tampered(pending.approvalId)] }) },
  ];
  for (const c of cases) {
    await expect(c.handle.result()).resolves.toEqual({ status: 'refused', outcome: expect.stringMatching(c.reason) });
    await didNothingBut(c.handle, 'verifyApprovalStart');
  }
  expect((await forgedRows(pending.approvalId)).map((r) => r.detail.workflowId).sort()).toEqual([cases[0]!.handle.workflowId, cases[2]!.handle.workflowId].sort());
  expect(await forgedRows(madeUp)).toHaveLength(1);
  expect((await pool.query('SELECT status, qty, side, decided_at, client_order_id, updated_at FROM approvals WHERE id = $1', [pending.approvalId])).rows[0]).toEqual(rowBefore);
  expect(await ledgerRows(pool, pending.deploymentId)).toEqual([]);
  expect((await pool.query('SELECT 1 FROM order_ledger WHERE workflow_id = ANY($1::text[])', [cases.map((c) => c.handle.workflowId)])).rows).toEqual([]);
}, 120_000);

test('a second notificationDispatchWorkflow started by hand under another id is refused: the outbox has one dispatcher', async () => {
  const workflowId = `dispatcher-${randomUUID()}`;
  const handle = await startByHand('notificationDispatchWorkflow', { workflowId, args: [{ pollIntervalMs: 10, minSleepMs: 1 }] });
  await expect(handle.result()).resolves.toEqual({ status: 'refused', reason: expect.stringMatching(/the outbox has one dispatcher, notification-dispatcher/) });
  await didNothingBut(handle, 'verifyNotificationDispatcherStart');
  const rows = await forgedRows(workflowId);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ action: 'notification-dispatcher.start.forged', detail: { input: expect.stringContaining('"pollIntervalMs":10') } });
}, 60_000);
