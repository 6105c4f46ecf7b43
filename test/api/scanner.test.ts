import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { setDeploymentPhase } from '../../db/sql/deployments';
import { temporalCliPath } from '../../harness/stack/temporal';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { testPool } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';

/**
 * A scanner deployment through the API against the dev server: its phase on the list and the detail (row and live
 * state), the spec's bounds as 400s, and the DeploymentPhase search attribute a `temporal workflow list --query` finds.
 */
let h: ApiHarness;
let pool: Pool;
let paper: PaperBrokerProcess;
let nativeConnection: NativeConnection;
let worker: Worker;
let workerRun: Promise<void>;
const account = `scanapi-${randomUUID().slice(0, 8)}`;
const started: string[] = [];
const run = promisify(execFile);

beforeAll(async () => {
  const stack = testStack();
  h = await startApi();
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e6 });
  nativeConnection = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: stack.TEMPORAL_NAMESPACE,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(stack.WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: pool, redis: h.redis, brokers: { paper: paperBrokerPort(paper.url) }, paperPrices: new PaperBrokerAdmin(paper.url) }),
  });
  workerRun = worker.run();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(started.map((id) => h.deps.temporal.workflow.getHandle(id).terminate('scanner api test cleanup')));
  if (worker) {
    worker.shutdown();
    await workerRun.catch(() => undefined);
  }
  await nativeConnection?.close();
  await paper?.stop();
  await pool?.end();
  await h?.close();
});

const universe = Array.from({ length: 200 }, (_, i) => `SCU${i}`);
/** Daily bars on the NYSE calendar: no cycle comes due while the test runs. */
const body = (over: Record<string, unknown> = {}) => ({
  strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: universe, timeframe: '1d', accountId: account, broker: 'paper',
  eod: { marginMinutes: 5 }, scanner: { maxPositions: 3, minVolume: 100_000, minPrice: 5, maxPrice: 500, rankBy: 'dollar-volume' }, ...over,
});
const post = (payload: Record<string, unknown>) => h.app.inject({ method: 'POST', url: '/v1/deployments', headers: AUTH.trader, payload });
const get = (url: string) => h.app.inject({ method: 'GET', url, headers: AUTH.viewer });

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

/** `temporal workflow list --query ...` as a user types it, one workflow id per line. */
async function listByQuery(query: string): Promise<string[]> {
  const stack = testStack();
  const { stdout } = await run(temporalCliPath(), ['workflow', 'list', '--query', query, '--output', 'json', '--address', stack.TEMPORAL_ADDRESS, '--namespace', stack.TEMPORAL_NAMESPACE], { timeout: 30_000 });
  return stdout.trim() ? (JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>).map((w) => w.execution.workflowId) : [];
}

test('a scanner of 200 symbols: phase idle on the list and the detail, null for a plain deployment; the search attribute finds it by phase', async () => {
  const res = await post(body());
  expect(res.statusCode).toBe(202);
  const scanner = res.json<{ id: string; workflowId: string }>();
  started.push(scanner.workflowId);
  const plainRes = await post(body({ symbols: ['SCPLAIN'], scanner: undefined, eod: undefined }));
  expect(plainRes.statusCode).toBe(202);
  const plain = plainRes.json<{ id: string; workflowId: string }>();
  started.push(plain.workflowId);

  const list = await get(`/v1/deployments?accountId=${account}`);
  expect(list.statusCode).toBe(200);
  const phases = Object.fromEntries(list.json<{ deployments: Array<{ id: string; phase: string | null; symbols: string[] }> }>().deployments.map((d) => [d.id, d.phase]));
  expect(phases).toEqual({ [scanner.id]: 'idle', [plain.id]: null });

  const detail = await eventually(() => get(`/v1/deployments/${scanner.id}`), (r) => r.json<{ state: { source: string } }>().state.source === 'workflow');
  expect(detail.statusCode).toBe(200);
  expect(detail.json()).toMatchObject({
    phase: 'idle', symbols: universe,
    spec: { scanner: { maxPositions: 3, minVolume: 100_000, minPrice: 5, maxPrice: 500, rankBy: 'dollar-volume' }, eod: { marginMinutes: 5 } },
    state: { source: 'workflow', phase: 'idle', lastScan: null },
  });
  const plainDetail = await eventually(() => get(`/v1/deployments/${plain.id}`), (r) => r.json<{ state: { source: string } }>().state.source === 'workflow');
  expect(plainDetail.json()).toMatchObject({ phase: null, state: { phase: null, lastScan: null } });

  // The search attribute, as `temporal workflow list --query 'DeploymentPhase="idle"'` reads it (visibility lags a little).
  const mine = `DeploymentId="${scanner.id}"`;
  expect(await eventually(() => listByQuery(`DeploymentPhase="idle" AND ${mine}`), (ids) => ids.length === 1)).toEqual([scanner.workflowId]);
  expect(await listByQuery(`DeploymentPhase="holding" AND ${mine}`)).toEqual([]);
  expect(await listByQuery(`DeploymentPhase="idle" AND DeploymentId="${plain.id}"`)).toEqual([]);

  // The row's phase is what the list shows (the runtime writes it when the phase changes).
  await setDeploymentPhase(pool, scanner.id, 'holding');
  const after = await get(`/v1/deployments?accountId=${account}`);
  expect(after.json<{ deployments: Array<{ id: string; phase: string | null }> }>().deployments.find((d) => d.id === scanner.id)?.phase).toBe('holding');
  const stopped = await h.app.inject({ method: 'POST', url: `/v1/deployments/${scanner.id}/stop`, headers: AUTH.trader, payload: { reason: 'test done' } });
  expect(stopped.statusCode).toBe(202);
  const ended = await eventually(() => get(`/v1/deployments/${scanner.id}`), (r) => r.json<{ status: string }>().status === 'stopped');
  expect(ended.json()).toMatchObject({ phase: 'holding', state: { source: 'row', phase: 'holding', lastScan: null } });
}, 120_000);

test('started by hand: a scanner spec in the input never makes a runtime, a made-up or a real deployment alike (refused, one audit row, the row untouched)', async () => {
  const res = await post(body({ symbols: ['SCREAL'], scanner: undefined, eod: undefined }));
  const real = res.json<{ id: string; workflowId: string }>();
  started.push(real.workflowId);
  const spec = { ...body(), quantity: 1000, params: { fast: 3, slow: 8 }, riskLimits: { maxExposure: 1e9, maxPositionQty: 1e6 } };
  const madeUp = randomUUID();
  for (const [deploymentId, workflowId, reason] of [[madeUp, `deployment-${madeUp}`, /no deployment .* was recorded/], [real.id, `evil-${randomUUID()}`, /runs as workflow deployment-/]] as const) {
    const handle = await h.deps.temporal.workflow.start('deploymentWorkflow', { taskQueue: TASK_QUEUES.io, workflowId, args: [{ deploymentId, spec, paramsVersion: 1 }] });
    started.push(workflowId);
    await expect(handle.result()).resolves.toEqual({ status: 'refused', reason: expect.stringMatching(reason) });
    expect((await handle.describe()).typedSearchAttributes.getAll().map((p) => p.key.name)).not.toContain('DeploymentPhase');
    const audit = await pool.query('SELECT action FROM audit_log WHERE subject = $1 AND action = $2', [deploymentId, 'deployment.start.forged']);
    expect(audit.rows).toHaveLength(1);
  }
  expect((await pool.query('SELECT 1 FROM deployments WHERE id = $1', [madeUp])).rows).toEqual([]);
  const row = await pool.query<{ phase: string | null; status: string }>('SELECT phase, status FROM deployments WHERE id = $1', [real.id]);
  expect(row.rows).toEqual([{ phase: null, status: 'running' }]);
}, 60_000);

test('the scanner spec is checked at the door: 400s name the field, nothing is recorded', async () => {
  const before = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deployments WHERE account_id = $1', [account])).rows[0]!.n;
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [body({ eod: undefined }), 'eod', /a scanner needs an eod policy/],
    [body({ symbols: [...universe, 'SCU200'] }), 'symbols', /at most 20 symbols \(a scanner's universe: 200\)/],
    [body({ scanner: undefined, eod: undefined }), 'symbols', /at most 20 symbols/],
    [body({ scanner: { maxPositions: 0 } }), 'scanner.maxPositions', /maxPositions must be at least 1/],
    [body({ scanner: { minPrice: 10, maxPrice: 1 } }), 'scanner.maxPrice', /maxPrice must be >= minPrice/],
    [body({ scanner: { rankBy: 'hype' } }), 'scanner.rankBy', /rankBy must be one of: volume, dollar-volume/],
    [body({ allowShort: true }), 'allowShort', /a scanner enters long only/],
    [body({ approvalPolicy: { mode: 'always' } }), 'approvalPolicy', /without approvals/],
  ];
  for (const [payload, field, message] of cases) {
    const res = await post(payload);
    expect(res.statusCode).toBe(400);
    const issues = res.json<{ error: { issues: Array<{ path: string; message: string }> } }>().error.issues;
    expect(issues).toContainEqual(expect.objectContaining({ path: field, message: expect.stringMatching(message) }));
  }
  expect((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deployments WHERE account_id = $1', [account])).rows[0]!.n).toBe(before);
}, 60_000);
