import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { freePort, startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { buildApp } from '../../clients/api/app';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { createPgPool, createRedis } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { createDeployment } from '../../services/deployments';
import { deploymentStartOptions } from '../../services/start-options';
import { deploymentStateQuery } from '../../workflows/deployment/messages';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { testPool } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';

/**
 * The deployment API against the real dev server, with an in-process IO worker (real activities, Postgres,
 * Redis and the paper broker) so the runtime answers queries and acts on signals.
 */
let h: ApiHarness;
let pool: Pool;
let paper: PaperBrokerProcess;
let nativeConnection: NativeConnection;
let worker: Worker;
let workerRun: Promise<void>;
const account = `api-${randomUUID().slice(0, 8)}`;
const started: string[] = [];

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
  await Promise.allSettled(started.map((id) => h.deps.temporal.workflow.getHandle(id).terminate('deployments test cleanup')));
  if (worker) {
    worker.shutdown();
    await workerRun.catch(() => undefined);
  }
  await nativeConnection?.close();
  await paper?.stop();
  await pool?.end();
  await h?.close();
});

/** A valid request body: daily bars on the NYSE calendar, so no cycle comes due while the test runs. */
const specBody = (over: Record<string, unknown> = {}) => ({
  strategy: 'sma-cross',
  params: { fast: 3, slow: 8 },
  symbols: ['APIDEP', 'APIDEP2'],
  timeframe: '1d',
  accountId: account,
  broker: 'paper',
  ...over,
});

interface Created {
  id: string;
  workflowId: string;
  status: string;
  links: { self: string; temporalUi: string };
}

async function create(over: Record<string, unknown> = {}): Promise<Created> {
  const res = await h.app.inject({ method: 'POST', url: '/v1/deployments', headers: AUTH.trader, payload: specBody(over) });
  if (res.statusCode !== 202) throw new Error(`create: ${res.statusCode} ${res.body}`);
  const body = res.json<Created>();
  started.push(body.workflowId);
  return body;
}

const post = (url: string, payload?: unknown, headers: Record<string, string> = AUTH.trader) =>
  h.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}

const queryState = (handle: WorkflowHandle) => handle.query(deploymentStateQuery);

async function row(id: string) {
  const { rows } = await pool.query<{ status: string; params_version: number; created_by: string; workflow_id: string; account_id: string; strategy: string }>(
    'SELECT status, params_version, created_by, workflow_id, account_id, strategy FROM deployments WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function audits(id: string) {
  const { rows } = await pool.query<{ actor: string; action: string; detail: Record<string, unknown> }>(
    'SELECT actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id',
    [id],
  );
  return rows;
}

async function countDeployments(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deployments');
  return rows[0].n;
}

describe('POST /v1/deployments', () => {
  test('records the deployment, params v1 and an audit row, and starts one runtime with search attributes', async () => {
    const created = await create({ name: 'api test' });
    expect(created).toMatchObject({ status: 'running', workflowId: `deployment-${created.id}` });
    expect(created.links.self).toBe(`/v1/deployments/${created.id}`);
    expect(created.links.temporalUi).toContain(encodeURIComponent(created.workflowId));

    expect(await row(created.id)).toMatchObject({ status: 'running', params_version: 1, created_by: 'tom', account_id: account, strategy: 'sma-cross' });
    const params = await pool.query('SELECT version, params, created_by FROM deployment_params WHERE deployment_id = $1', [created.id]);
    expect(params.rows).toEqual([{ version: 1, params: { fast: 3, slow: 8 }, created_by: 'tom' }]);
    const audit = await audits(created.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'tom', action: 'deployment.create', detail: { name: 'api test', workflowId: created.workflowId } });

    const handle = h.deps.temporal.workflow.getHandle(created.workflowId);
    const desc = await handle.describe();
    expect(desc.status.name).toBe('RUNNING');
    expect(desc.taskQueue).toBe(TASK_QUEUES.io);
    expect(desc.type).toBe('deploymentWorkflow');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.deploymentId)).toBe(created.id);
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.accountId)).toBe(account);
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.strategy)).toBe('sma-cross');
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.symbol)).toBe('APIDEP');

    // The runtime answers its query (the in-process IO worker runs it).
    const state = await eventually(() => queryState(handle), (s) => s.status === 'running');
    expect(state).toMatchObject({ deploymentId: created.id, paramsVersion: 1, cycle: 0 });

    // A second runtime for the same deployment cannot be started.
    const spec = parseDeploymentSpec(specBody());
    await expect(
      h.deps.temporal.workflow.start('deploymentWorkflow', {
        taskQueue: TASK_QUEUES.io,
        workflowId: created.workflowId,
        args: [{ deploymentId: created.id, spec, paramsVersion: 1 }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  });

  test('the same start twice on one id through the client: the second is WorkflowExecutionAlreadyStartedError', async () => {
    // A deployment started as every deployment is (services/deployments.ts), then its start options once more.
    const spec = parseDeploymentSpec(specBody());
    const { id, workflowId, handle } = await createDeployment({ db: pool, temporal: h.deps.temporal }, { spec, by: 'test' });
    started.push(workflowId);
    const opts = deploymentStartOptions({ deploymentId: id, spec, paramsVersion: 1 });
    expect(opts).toMatchObject({ workflowId, workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'REJECT_DUPLICATE' });
    await expect(h.deps.temporal.workflow.start('deploymentWorkflow', opts)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    await handle.terminate('test');
    // Closed, the id still cannot be reused (REJECT_DUPLICATE).
    await expect(h.deps.temporal.workflow.start('deploymentWorkflow', opts)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  });

  test('replay: the workflow gets a clock from replay.from at replay.speed', async () => {
    const before = Date.now();
    const created = await create({ replay: { from: '2024-03-01T14:30:00Z', speed: 60 } });
    const history = await h.deps.temporal.workflow.getHandle(created.workflowId).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    const input = JSON.parse(Buffer.from(payload!).toString('utf8')) as { clock: { dataStartMs: number; wallStartMs: number; speed: number }; paramsVersion: number };
    expect(input.paramsVersion).toBe(1);
    expect(input.clock).toMatchObject({ dataStartMs: Date.parse('2024-03-01T14:30:00Z'), speed: 60 });
    expect(input.clock.wallStartMs).toBeGreaterThanOrEqual(before);
    expect(input.clock.wallStartMs).toBeLessThanOrEqual(Date.now());
    expect((await audits(created.id))[0].detail).toMatchObject({ replay: { from: '2024-03-01T14:30:00Z', speed: 60 } });
    // The same clock is recorded with the deployment: the runtime takes it from there, not from its input.
    const recorded = await pool.query<{ replay_clock: unknown }>('SELECT replay_clock FROM deployments WHERE id = $1', [created.id]);
    expect(recorded.rows[0]!.replay_clock).toEqual(input.clock);
  });

  test.each([
    ['fast not below slow', { params: { fast: 10, slow: 5 } }, 'params.fast'],
    ['unknown param', { params: { fast: 3, slow: 8, bogus: 1 } }, 'params.bogus'],
    ['unknown strategy', { strategy: 'nope' }, 'strategy'],
    ['no symbols', { symbols: [] }, 'symbols'],
    ['bad symbol', { symbols: ['aapl'] }, 'symbols.0'],
    ['repeated symbol', { symbols: ['A', 'A'] }, 'symbols'],
    ['bad timeframe', { timeframe: '7m' }, 'timeframe'],
    ['bad account', { accountId: 'has space' }, 'accountId'],
    ['bad broker', { broker: 'ib' }, 'broker'],
    ['negative quantity', { quantity: -1 }, 'quantity'],
    ['bad risk limit', { riskLimits: { maxExposure: 0 } }, 'riskLimits.maxExposure'],
    ['negative stop', { exits: { stopLossPct: -0.02 } }, 'exits.stopLossPct'],
    ['trailing stop of 100 %', { exits: { trailingStopPct: 1 } }, 'exits.trailingStopPct'],
    ['exits with none', { exits: { intrabarPolicy: 'pessimistic' } }, 'exits'],
    ['unknown partial-fill policy', { partialFills: 'ignore' }, 'partialFills'],
    ['unknown field', { extra: 1 }, ''],
    ['replay speed too high', { replay: { from: '2024-03-01T14:30:00Z', speed: 5000 } }, 'replay.speed'],
    ['replay speed too low', { replay: { from: '2024-03-01T14:30:00Z', speed: 0 } }, 'replay.speed'],
    ['replay from not a date-time', { replay: { from: 'yesterday', speed: 10 } }, 'replay.from'],
    ['replay from in the future', { replay: { from: '2999-01-01T00:00:00Z', speed: 10 } }, 'replay.from'],
    ['empty name', { name: '' }, 'name'],
  ])('invalid spec (%s) is a 400 naming the field, and creates no row and no workflow', async (_what, over, issuePath) => {
    const rowsBefore = await countDeployments();
    const { count: wfBefore } = await h.deps.temporal.workflow.count('WorkflowType="deploymentWorkflow"');
    const res = await post('/v1/deployments', specBody(over));
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; issues: Array<{ in: string; path: string; message: string }> } }>();
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.issues.map((i) => i.path)).toContain(issuePath);
    expect(body.error.issues.every((i) => i.in === 'body')).toBe(true);
    expect(await countDeployments()).toBe(rowsBefore);
    const { count: wfAfter } = await h.deps.temporal.workflow.count('WorkflowType="deploymentWorkflow"');
    expect(wfAfter).toBe(wfBefore);
  });

  test('viewer and approver may not create (403); no key is a 401', async () => {
    for (const headers of [AUTH.viewer, AUTH.approver]) expect((await post('/v1/deployments', specBody(), headers)).statusCode).toBe(403);
    expect((await h.app.inject({ method: 'POST', url: '/v1/deployments', payload: specBody() })).statusCode).toBe(401);
  });

  test('Temporal unreachable: a 503 with Retry-After, and the row is recorded as failed with the reason', async () => {
    const config = testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
    const logger = createLogger('silent');
    const db = createPgPool(config, logger, 'api-test');
    const redis = createRedis(config, logger);
    const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
    const app = await buildApp({ config, db, redis, temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), logger });
    const downAccount = `down-${randomUUID().slice(0, 8)}`;
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/deployments', headers: AUTH.trader, payload: specBody({ accountId: downAccount }) });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.json<{ error: { code: string } }>().error.code).toBe('unavailable');
      const { rows } = await pool.query<{ id: string; status: string }>('SELECT id, status FROM deployments WHERE account_id = $1', [downAccount]);
      expect(rows).toEqual([{ id: expect.any(String), status: 'failed' }]);
      expect((await audits(rows[0].id)).map((a) => a.action)).toEqual(['deployment.create', 'deployment.start-failed']);
    } finally {
      await app.close();
      redis.disconnect();
      await Promise.allSettled([db.end(), connection.close()]);
    }
  }, 30_000);
});

describe('GET /v1/deployments', () => {
  test('lists newest first, filters by status and account, pages', async () => {
    const a = await create();
    const b = await create();
    const res = await h.app.inject({ method: 'GET', url: `/v1/deployments?accountId=${account}&status=running&limit=2`, headers: AUTH.viewer });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ deployments: Array<{ id: string; status: string; accountId: string; symbols: string[] }>; limit: number; offset: number }>();
    expect(body.limit).toBe(2);
    expect(body.deployments.map((d) => d.id)).toEqual([b.id, a.id]);
    expect(body.deployments[0]).toMatchObject({ status: 'running', accountId: account, symbols: ['APIDEP', 'APIDEP2'] });
    const next = await h.app.inject({ method: 'GET', url: `/v1/deployments?accountId=${account}&status=running&limit=1&offset=1`, headers: AUTH.viewer });
    expect(next.json<{ deployments: Array<{ id: string }> }>().deployments.map((d) => d.id)).toEqual([a.id]);
    const none = await h.app.inject({ method: 'GET', url: `/v1/deployments?accountId=${account}&status=blocked`, headers: AUTH.viewer });
    expect(none.json<{ deployments: unknown[] }>().deployments).toEqual([]);
  });

  test('bad filters are 400s naming the parameter', async () => {
    for (const [qs, p] of [['status=bogus', 'status'], ['limit=0', 'limit'], ['accountId=a%20b', 'accountId'], ['nope=1', '']] as const) {
      const res = await h.app.inject({ method: 'GET', url: `/v1/deployments?${qs}`, headers: AUTH.viewer });
      expect(res.statusCode).toBe(400);
      expect(res.json<{ error: { issues: Array<{ in: string; path: string }> } }>().error.issues).toContainEqual(expect.objectContaining({ in: 'query', path: p }));
    }
  });

  test('detail: spec, params, live state from the workflow, no positions or cycles yet; 404 and 400 for bad ids', async () => {
    const created = await create({ name: 'detail' });
    const get = () => h.app.inject({ method: 'GET', url: `/v1/deployments/${created.id}`, headers: AUTH.viewer });
    const res = await eventually(get, (r) => r.json<{ state: { source: string } }>().state.source === 'workflow');
    expect(res.statusCode).toBe(200);
    const d = res.json<Record<string, unknown>>();
    expect(d).toMatchObject({
      id: created.id,
      name: 'detail',
      status: 'running',
      strategy: 'sma-cross',
      paramsVersion: 1,
      params: { fast: 3, slow: 8 },
      createdBy: 'tom',
      state: { source: 'workflow', status: 'running', cycle: 0, paramsVersion: 1, breaker: 'none' },
      positions: [],
      cycles: [],
    });
    expect((d.spec as { riskLimits: { maxExposure: number } }).riskLimits.maxExposure).toBe(10_000);
    expect(typeof (d.state as { nextBarClose: string }).nextBarClose).toBe('string');

    expect((await h.app.inject({ method: 'GET', url: `/v1/deployments/${randomUUID()}`, headers: AUTH.viewer })).statusCode).toBe(404);
    const bad = await h.app.inject({ method: 'GET', url: '/v1/deployments/not-a-uuid', headers: AUTH.viewer });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { issues: Array<{ in: string; path: string }> } }>().error.issues[0]).toMatchObject({ in: 'path', path: 'id' });
  });
});

describe('controlling a deployment', () => {
  test('pause, resume, params, flatten and stop reach the workflow, change the row, and are audited', async () => {
    const created = await create();
    const url = `/v1/deployments/${created.id}`;
    const handle = h.deps.temporal.workflow.getHandle(created.workflowId);
    await eventually(() => queryState(handle), (s) => s.status === 'running');

    // pause: recorded, then applied by the runtime before the answer (the row and the runtime agree at once)
    let res = await post(`${url}/pause`, { reason: 'lunch' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id: created.id, action: 'pause', commandId: expect.any(String), applied: true, status: 'paused', cycle: 0, paramsVersion: 1, detail: 'paused at cycle 0' });
    expect((await queryState(handle)).status).toBe('paused');
    expect(await row(created.id)).toMatchObject({ status: 'paused', params_version: 1 });
    expect((await post(`${url}/pause`)).statusCode).toBe(409);

    // resume (an empty body is fine too)
    res = await post(`${url}/resume`);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ applied: true, status: 'running' });
    expect((await queryState(handle)).status).toBe('running');
    expect((await row(created.id)).status).toBe('running');
    expect((await post(`${url}/resume`)).statusCode).toBe(409);

    // params: a version the API assigns, in the row, the params table and the workflow as soon as it answers
    res = await post(`${url}/params`, { params: { fast: 5, slow: 20 } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ id: created.id, version: 2, params: { fast: 5, slow: 20 }, applied: true, paramsVersion: 2 });
    expect((await queryState(handle)).paramsVersion).toBe(2);
    expect((await row(created.id)).params_version).toBe(2);
    res = await post(`${url}/params`, { params: { period: 12 } });
    expect(res.json<{ version: number }>().version).toBe(3);
    expect((await queryState(handle)).paramsVersion).toBe(3);
    const versions = await pool.query('SELECT version, params, created_by FROM deployment_params WHERE deployment_id = $1 ORDER BY version', [created.id]);
    expect(versions.rows).toEqual([
      { version: 1, params: { fast: 3, slow: 8 }, created_by: 'tom' },
      { version: 2, params: { fast: 5, slow: 20 }, created_by: 'tom' },
      { version: 3, params: { period: 12 }, created_by: 'tom' },
    ]);
    const detail = await h.app.inject({ method: 'GET', url, headers: AUTH.viewer });
    expect(detail.json()).toMatchObject({ paramsVersion: 3, params: { period: 12 }, state: { source: 'workflow', paramsVersion: 3, status: 'running' }, blockers: [] });

    // invalid params: 400 with the path, nothing recorded
    const commandsBefore = (await pool.query('SELECT count(*)::int AS n FROM deployment_commands WHERE deployment_id = $1', [created.id])).rows[0].n;
    res = await post(`${url}/params`, { params: { fast: 30, slow: 20 } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { issues: Array<{ path: string }> } }>().error.issues.map((i) => i.path)).toContain('params.fast');
    res = await post(`${url}/params`, { params: { entry: 20 } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { issues: Array<{ path: string }> } }>().error.issues.map((i) => i.path)).toContain('params.entry');
    expect((await post(`${url}/params`, {})).statusCode).toBe(400);
    expect((await row(created.id)).params_version).toBe(3);
    expect((await pool.query('SELECT count(*)::int AS n FROM deployment_commands WHERE deployment_id = $1', [created.id])).rows[0].n).toBe(commandsBefore);

    // flatten: the runtime runs a flatten cycle (no position here, so no order)
    res = await post(`${url}/flatten`, { reason: 'test' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ action: 'flatten', applied: true, status: 'running' });
    await eventually(() => queryState(handle), (s) => s.cycle === 1);
    // its cycle number has its row all the same (no hole in the cycle numbers), saying there was nothing to close
    const flattenRows = async () => (await pool.query('SELECT cycle_seq, symbol, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY symbol', [created.id])).rows;
    expect(await eventually(flattenRows, (r) => r.length >= 2)).toEqual(['APIDEP', 'APIDEP2'].map((symbol) => ({ cycle_seq: 1, symbol, action: 'skip', reason: 'flatten: no open position' })));

    // stop: applied (stopping), then nothing is left to resolve and the workflow completes as stopped
    res = await post(`${url}/stop`, { reason: 'done' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ applied: true, status: 'stopping' });
    await expect(handle.result()).resolves.toEqual({ cycles: 1, status: 'stopped', reason: 'done' });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await row(created.id)).toMatchObject({ status: 'stopped' });

    // stopped: every action and params change is a 409; the id cannot start a second runtime
    for (const a of ['pause', 'resume', 'stop', 'flatten']) expect((await post(`${url}/${a}`)).statusCode).toBe(409);
    expect((await post(`${url}/params`, { params: { fast: 2, slow: 4 } })).statusCode).toBe(409);
    await expect(
      h.deps.temporal.workflow.start('deploymentWorkflow', {
        taskQueue: TASK_QUEUES.io,
        workflowId: created.workflowId,
        args: [{ deploymentId: created.id, spec: parseDeploymentSpec(specBody()), paramsVersion: 1 }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

    // the GET of a stopped deployment answers from the row
    const stopped = await h.app.inject({ method: 'GET', url, headers: AUTH.viewer });
    expect(stopped.json()).toMatchObject({ status: 'stopped', statusReason: 'done', state: { source: 'row', status: 'stopped' } });

    const trail = await audits(created.id);
    const mine = trail.filter((a) => a.actor === 'tom').map((a) => a.action);
    expect(mine).toEqual(['deployment.create', 'deployment.pause', 'deployment.resume', 'deployment.params', 'deployment.params', 'deployment.flatten', 'deployment.stop']);
    expect(trail.find((a) => a.action === 'deployment.pause')?.detail).toMatchObject({ reason: 'lunch', statusWhenRecorded: 'running' });
    // the runtime's side: one row per command it applied, then that it stopped
    const runtime = trail.filter((a) => a.actor === 'runtime').map((a) => a.action);
    expect(runtime).toEqual(['deployment.pause.applied', 'deployment.resume.applied', 'deployment.params.applied', 'deployment.params.applied', 'deployment.flatten.applied', 'deployment.stop.applied', 'deployment.stopped']);
    expect(trail.find((a) => a.action === 'deployment.pause.applied')?.detail).toMatchObject({ by: 'tom', status: 'paused', cycle: 0 });
    const commands = await pool.query<{ kind: string; state: string }>('SELECT kind, state FROM deployment_commands WHERE deployment_id = $1 ORDER BY requested_at', [created.id]);
    expect(commands.rows.every((c) => c.state === 'applied')).toBe(true);
  }, 60_000);

  test('unknown deployment is a 404, a bad id or body a 400, viewer and approver a 403', async () => {
    const unknown = randomUUID();
    for (const a of ['pause', 'resume', 'stop', 'flatten']) {
      expect((await post(`/v1/deployments/${unknown}/${a}`)).statusCode).toBe(404);
      expect((await post(`/v1/deployments/not-a-uuid/${a}`)).statusCode).toBe(400);
    }
    expect((await post(`/v1/deployments/${unknown}/params`, { params: { fast: 2, slow: 4 } })).statusCode).toBe(404);
    const created = await create();
    expect((await post(`/v1/deployments/${created.id}/pause`, { reason: 'x'.repeat(501) })).statusCode).toBe(400);
    expect((await post(`/v1/deployments/${created.id}/pause`, { why: 'no' })).statusCode).toBe(400);
    for (const headers of [AUTH.viewer, AUTH.approver]) {
      expect((await post(`/v1/deployments/${created.id}/pause`, undefined, headers)).statusCode).toBe(403);
      expect((await post(`/v1/deployments/${created.id}/params`, { params: { fast: 2, slow: 4 } }, headers)).statusCode).toBe(403);
    }
    expect((await row(created.id)).status).toBe('running');
  });

  test('a runtime terminated from outside: the action is a 409, its command cancelled, and the row is recorded as stopped', async () => {
    const created = await create();
    const handle = h.deps.temporal.workflow.getHandle(created.workflowId);
    // terminated once its start check has passed: a run terminated while that check is still out lets the check finish
    // after the API has recorded the row stopped, and it then refuses the start with a deployment.start.forged row
    await eventually(() => queryState(handle), (s) => s.status === 'running');
    await handle.terminate('operator');
    const res = await post(`/v1/deployments/${created.id}/pause`);
    expect(res.statusCode).toBe(409);
    expect((await row(created.id)).status).toBe('stopped');
    expect((await audits(created.id)).map((a) => a.action)).toEqual(['deployment.create', 'deployment.pause', 'deployment.pause.cancelled', 'deployment.stopped']);
    const commands = await pool.query<{ state: string }>('SELECT state FROM deployment_commands WHERE deployment_id = $1', [created.id]);
    expect(commands.rows).toEqual([{ state: 'cancelled' }]);
  });
});

describe('a configuration error', () => {
  test('a broker this IO worker has not configured ends the deployment as failed: row, audit row and alert, and the workflow completes', async () => {
    const created = await create({ broker: 'alpaca', timeframe: '1m', calendar: '24x7', settleDelayMs: 0, replay: { from: '2024-01-08T00:00:00Z', speed: 60 } });
    const handle = h.deps.temporal.workflow.getHandle(created.workflowId);
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringContaining('unknown broker "alpaca"') });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    const { rows } = await pool.query<{ status: string; status_reason: string }>('SELECT status, status_reason FROM deployments WHERE id = $1', [created.id]);
    expect(rows[0]!.status).toBe('failed');
    expect(rows[0]!.status_reason).toContain('unknown broker "alpaca": this IO worker has no such broker configured');
    expect((await audits(created.id)).filter((a) => a.actor === 'runtime').map((a) => a.action)).toEqual(['deployment.failed']);
    const alert = await pool.query<{ kind: string; severity: string }>(`SELECT kind, severity FROM notifications WHERE payload->>'deploymentId' = $1`, [created.id]);
    expect(alert.rows).toEqual([{ kind: 'deployment.failed', severity: 'critical' }]);
    // The API reports it as it is, and refuses to control it.
    const got = (await h.app.inject({ method: 'GET', url: `/v1/deployments/${created.id}`, headers: AUTH.viewer })).json<Record<string, unknown>>();
    expect(got).toMatchObject({ status: 'failed', statusReason: expect.stringContaining('unknown broker'), state: { source: 'row', status: 'failed' } });
    expect((await post(`/v1/deployments/${created.id}/resume`)).statusCode).toBe(409);
    expect((await post(`/v1/deployments/${created.id}/stop`)).statusCode).toBe(409);
  }, 60_000);
});

describe('orders, fills and positions', () => {
  const deploymentId = randomUUID();
  const other = randomUUID();
  const orderAccount = `ofp-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const spec = parseDeploymentSpec(specBody({ accountId: orderAccount, symbols: ['OFPA', 'OFPB'] }));
    for (const id of [deploymentId, other]) {
      await pool.query(
        `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'stopped', 'test')`,
        [id, `deployment-${id}`, orderAccount, JSON.stringify(spec)],
      );
      await pool.query(`INSERT INTO deployment_params (deployment_id, version, params, created_by) VALUES ($1, 1, '{"fast":3,"slow":8}', 'test')`, [id]);
    }
    const order = async (dep: string, coid: string, symbol: string, side: string, qty: number, state: string, at: string) =>
      pool.query(
        `INSERT INTO order_ledger (client_order_id, deployment_id, workflow_id, cycle_seq, leg, intent_version, broker, account_id, symbol, side, qty, order_type, time_in_force, intent_hash, state, filled_qty, avg_fill_price, created_at)
         VALUES ($1, $2, $3, 1, $4, 1, 'paper', $5, $6, $7, $8, 'market', 'day', 'h', $9, $10, $11, $12)`,
        [coid, dep, `deployment-${dep}`, Number(coid.slice(-1)), orderAccount, symbol, side, qty, state, state === 'FILLED' ? qty : 0, state === 'FILLED' ? 100 : null, at],
      );
    const fill = async (dep: string, coid: string, id: string, symbol: string, side: string, qty: number, price: number, at: string) =>
      pool.query(
        `INSERT INTO fills (broker, broker_fill_id, client_order_id, deployment_id, symbol, side, qty, price, ts) VALUES ('paper', $1, $2, $3, $4, $5, $6, $7, $8)`,
        [id, coid, dep, symbol, side, qty, price, at],
      );
    await order(deploymentId, `${deploymentId}-1`, 'OFPA', 'buy', 10, 'FILLED', '2024-01-02T15:00:00Z');
    await order(deploymentId, `${deploymentId}-2`, 'OFPA', 'sell', 4, 'FILLED', '2024-01-02T16:00:00Z');
    await order(deploymentId, `${deploymentId}-3`, 'OFPB', 'buy', 2, 'ACCEPTED', '2024-01-02T17:00:00Z');
    await order(other, `${other}-1`, 'OFPA', 'buy', 1, 'FILLED', '2024-01-02T15:30:00Z');
    await fill(deploymentId, `${deploymentId}-1`, `${deploymentId}-f1`, 'OFPA', 'buy', 10, 100, '2024-01-02T15:00:01Z');
    await fill(deploymentId, `${deploymentId}-2`, `${deploymentId}-f2`, 'OFPA', 'sell', 4, 110, '2024-01-02T16:00:01Z');
    await fill(other, `${other}-1`, `${other}-f1`, 'OFPA', 'buy', 1, 101, '2024-01-02T15:30:01Z');
    await pool.query(
      `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, reason, params_version, client_order_ids)
       VALUES ($1, 1, 'OFPA', '2024-01-02T15:00:00Z', 'order', 'up-cross', 1, $2), ($1, 2, 'OFPA', '2024-01-02T16:00:00Z', 'hold', NULL, 1, '{}')`,
      [deploymentId, [`${deploymentId}-1`]],
    );
  });

  const get = (url: string, headers: Record<string, string> = AUTH.viewer) => h.app.inject({ method: 'GET', url, headers });

  test('GET /v1/orders: newest first, filtered by deployment, symbol and state', async () => {
    let res = await get(`/v1/orders?deploymentId=${deploymentId}`);
    expect(res.statusCode).toBe(200);
    let orders = res.json<{ orders: Array<Record<string, unknown>> }>().orders;
    expect(orders.map((o) => o.clientOrderId)).toEqual([`${deploymentId}-3`, `${deploymentId}-2`, `${deploymentId}-1`]);
    expect(orders[1]).toMatchObject({ deploymentId, symbol: 'OFPA', side: 'sell', qty: 4, state: 'FILLED', filledQty: 4, avgFillPrice: 100, accountId: orderAccount, cycle: 1 });
    res = await get(`/v1/orders?deploymentId=${deploymentId}&state=FILLED&symbol=ofpa`);
    orders = res.json<{ orders: Array<Record<string, unknown>> }>().orders;
    expect(orders.map((o) => o.clientOrderId)).toEqual([`${deploymentId}-2`, `${deploymentId}-1`]);
    res = await get(`/v1/orders?deploymentId=${deploymentId}&limit=1&offset=1`);
    expect(res.json<{ orders: Array<{ clientOrderId: string }> }>().orders.map((o) => o.clientOrderId)).toEqual([`${deploymentId}-2`]);
    for (const qs of ['state=bogus', 'deploymentId=nope', 'limit=5000', 'symbol=a%20b', 'other=1']) expect((await get(`/v1/orders?${qs}`)).statusCode).toBe(400);
  });

  test('GET /v1/fills: newest first, filtered by deployment and symbol', async () => {
    const res = await get(`/v1/fills?deploymentId=${deploymentId}&symbol=OFPA`);
    expect(res.statusCode).toBe(200);
    const fills = res.json<{ fills: Array<Record<string, unknown>> }>().fills;
    expect(fills).toEqual([
      { broker: 'paper', brokerFillId: `${deploymentId}-f2`, clientOrderId: `${deploymentId}-2`, deploymentId, symbol: 'OFPA', side: 'sell', qty: 4, price: 110, time: '2024-01-02T16:00:01.000Z' },
      { broker: 'paper', brokerFillId: `${deploymentId}-f1`, clientOrderId: `${deploymentId}-1`, deploymentId, symbol: 'OFPA', side: 'buy', qty: 10, price: 100, time: '2024-01-02T15:00:01.000Z' },
    ]);
    expect((await get('/v1/fills?deploymentId=x')).statusCode).toBe(400);
  });

  test('GET /v1/positions: quantity and cash flow per deployment and symbol, by deployment or account', async () => {
    let res = await get(`/v1/positions?deploymentId=${deploymentId}`);
    expect(res.statusCode).toBe(200);
    expect(res.json<{ positions: unknown[] }>().positions).toEqual([
      { deploymentId, accountId: orderAccount, symbol: 'OFPA', qty: 6, cashFlow: -1000 + 440, fills: 2, lastFillAt: '2024-01-02T16:00:01.000Z' },
    ]);
    res = await get(`/v1/positions?accountId=${orderAccount}`);
    const positions = res.json<{ positions: Array<{ deploymentId: string; qty: number }> }>().positions;
    expect(positions).toHaveLength(2);
    expect(positions.find((p) => p.deploymentId === other)?.qty).toBe(1);
    expect((await get('/v1/positions?accountId=bad%20id')).statusCode).toBe(400);
  });

  test('the deployment detail shows positions from fills and the latest cycle rows', async () => {
    const res = await get(`/v1/deployments/${deploymentId}`);
    expect(res.statusCode).toBe(200);
    const d = res.json<{ positions: unknown[]; cycles: Array<Record<string, unknown>>; state: Record<string, unknown> }>();
    expect(d.positions).toEqual([{ symbol: 'OFPA', qty: 6, cashFlow: -560, fills: 2 }]);
    expect(d.cycles.map((c) => c.cycle)).toEqual([2, 1]);
    expect(d.cycles[1]).toMatchObject({ action: 'order', reason: 'up-cross', clientOrderIds: [`${deploymentId}-1`], barClose: '2024-01-02T15:00:00.000Z' });
    expect(d.state).toMatchObject({ source: 'row', status: 'stopped', cycle: 2 });
  });

  test('every role may read; no key is a 401', async () => {
    for (const url of ['/v1/orders', '/v1/fills', '/v1/positions', '/v1/deployments']) {
      for (const headers of [AUTH.viewer, AUTH.trader, AUTH.approver, AUTH.admin]) expect((await get(url, headers)).statusCode).toBe(200);
      expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(401);
    }
  });
});

describe('OpenAPI', () => {
  test('documents the deployment, trading and kill-switch routes', async () => {
    const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
    for (const p of [
      '/v1/deployments',
      '/v1/deployments/{id}',
      '/v1/deployments/{id}/pause',
      '/v1/deployments/{id}/resume',
      '/v1/deployments/{id}/stop',
      '/v1/deployments/{id}/flatten',
      '/v1/deployments/{id}/params',
      '/v1/orders',
      '/v1/fills',
      '/v1/positions',
      '/v1/kill-switch',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
