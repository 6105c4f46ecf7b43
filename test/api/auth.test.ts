import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { finishBacktestJob, insertBacktestJob } from '../../db/sql/backtest-jobs';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { startWorkerHeartbeat } from '../../platform/heartbeat';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { AUTH, bearer, startApi, type ApiHarness } from './harness';

type Caller = 'none' | 'badKey' | 'viewer' | 'trader' | 'approver' | 'admin';
const CALLERS: Caller[] = ['none', 'badKey', 'viewer', 'trader', 'approver', 'admin'];

const headersFor = (c: Caller): Record<string, string> =>
  c === 'none' ? {} : c === 'badKey' ? bearer('not-a-configured-key-000000000') : { ...AUTH[c] };

const CSV = 'Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,1000\n2020-01-03,10.5,12,10,11,1200\n';

/** Expected status per caller for the three kinds of route. */
const PUBLIC = { none: 200, badKey: 200, viewer: 200, trader: 200, approver: 200, admin: 200 } as const;
const VIEWER = { none: 401, badKey: 401, viewer: 200, trader: 200, approver: 200, admin: 200 } as const;
const TRADER = (ok: number) => ({ none: 401, badKey: 401, viewer: 403, trader: ok, approver: 403, admin: ok }) as const;

let h: ApiHarness;
let completedJobId: string;
const stopBeats: Array<() => Promise<void>> = [];
const startedWorkflows: string[] = [];

beforeAll(async () => {
  h = await startApi();
  // /health is 200 only with live workers on both queues; these heartbeats stand in for them.
  for (const q of [TASK_QUEUES.cpu, TASK_QUEUES.io]) {
    const beat = startWorkerHeartbeat(h.redis, q, `auth-test-${q}-${process.pid}`, () => undefined);
    stopBeats.push(() => beat.stop());
  }
  await new Promise((r) => setTimeout(r, 200));
  // A finished job (no workflow): GETs on it need no progress query.
  completedJobId = randomUUID();
  await insertBacktestJob(h.db, {
    id: completedJobId,
    workflowId: `backtest-${completedJobId}`,
    symbol: 'AUTHT',
    timeframe: '1d',
    settings: parseBacktestSettings({ strategy: 'sma-cross' }),
    requestedBy: 'test',
  });
  await finishBacktestJob(h.db, completedJobId, 'completed');
});

afterAll(async () => {
  await Promise.all(stopBeats.map((s) => s()));
  await Promise.allSettled(startedWorkflows.map((id) => h.deps.temporal.workflow.getHandle(id).terminate('auth test cleanup')));
  await h?.close();
});

/** A job the trader/admin may cancel: started through the API, still queued (no worker runs it here). */
async function runningJob(): Promise<string> {
  const res = await h.app.inject({ method: 'POST', url: '/v1/backtests', headers: AUTH.trader, payload: { symbol: 'AUTHT', strategy: 'sma-cross' } });
  expect(res.statusCode).toBe(202);
  const body = res.json<{ id: string; workflowId: string }>();
  startedWorkflows.push(body.workflowId);
  return body.id;
}

interface RouteCase {
  name: string;
  expected: Record<Caller, number>;
  request: (caller: Caller) => Promise<InjectOptions>;
}

const ROUTES: RouteCase[] = [
  // open without a key (the status alone); a key that is given must be a known one
  { name: 'GET /health', expected: { ...PUBLIC, badKey: 401 }, request: async () => ({ method: 'GET', url: '/health' }) },
  { name: 'GET /docs/json', expected: PUBLIC, request: async () => ({ method: 'GET', url: '/docs/json' }) },
  { name: 'GET /v1/bars', expected: VIEWER, request: async () => ({ method: 'GET', url: '/v1/bars' }) },
  { name: 'GET /v1/bars/candles', expected: VIEWER, request: async () => ({ method: 'GET', url: '/v1/bars/candles?symbol=AUTHT&timeframe=1d' }) },
  // the results page: a shell with no data, which fetches /v1 with the key typed into it
  { name: 'GET /results', expected: PUBLIC, request: async () => ({ method: 'GET', url: '/results' }) },
  {
    name: 'POST /v1/bars/import',
    expected: TRADER(200),
    request: async () => ({
      method: 'POST',
      url: '/v1/bars/import?symbol=AUTHT&timeframe=1d',
      headers: { 'content-type': 'text/csv' },
      payload: CSV,
    }),
  },
  {
    name: 'POST /v1/backtests',
    expected: TRADER(202),
    request: async () => ({ method: 'POST', url: '/v1/backtests', payload: { symbol: 'AUTHT', strategy: 'sma-cross', params: { fast: 5, slow: 20 } } }),
  },
  { name: 'GET /v1/backtests', expected: VIEWER, request: async () => ({ method: 'GET', url: '/v1/backtests?limit=5' }) },
  { name: 'GET /v1/backtests/:id', expected: VIEWER, request: async () => ({ method: 'GET', url: `/v1/backtests/${completedJobId}` }) },
  { name: 'GET /v1/backtests/:id/trades', expected: VIEWER, request: async () => ({ method: 'GET', url: `/v1/backtests/${completedJobId}/trades` }) },
  {
    name: 'POST /v1/backtests/:id/cancel',
    expected: TRADER(202),
    request: async (caller) => ({
      method: 'POST',
      url: `/v1/backtests/${caller === 'trader' || caller === 'admin' ? await runningJob() : completedJobId}/cancel`,
    }),
  },
];

describe.each(ROUTES)('$name', (route) => {
  test.each(CALLERS)('caller %s', async (caller) => {
    const opts = await route.request(caller);
    const res = await h.app.inject({ ...opts, headers: { ...(opts.headers as Record<string, string>), ...headersFor(caller) } });
    if (res.statusCode !== route.expected[caller]) throw new Error(`${route.name} as ${caller}: expected ${route.expected[caller]}, got ${res.statusCode} ${res.body}`);
    expect(res.statusCode).toBe(route.expected[caller]);
    if (res.statusCode === 401) {
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      const body = res.json<{ error: { code: string; message: string } }>();
      expect(body.error.code).toBe('unauthorized');
      expect(res.body).not.toMatch(/stack|\bat .+:\d+:\d+|node_modules/i);
    }
    if (res.statusCode === 403) expect(res.json<{ error: { code: string } }>().error.code).toBe('forbidden');
  });
});

describe('authentication details', () => {
  test('a malformed Authorization header is a 401', async () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', TEST_KEY_WITHOUT_SCHEME()]) {
      const res = await h.app.inject({ method: 'GET', url: '/v1/bars', headers: { authorization } });
      expect(res.statusCode).toBe(401);
    }
  });

  test('an unknown route is a 404 with the uniform error body, with or without a key', async () => {
    for (const headers of [{}, AUTH.viewer]) {
      const res = await h.app.inject({ method: 'GET', url: '/v1/nope', headers });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String), requestId: res.headers['x-request-id'] } });
    }
  });

  test('answers never echo the key', async () => {
    const key = 'not-a-configured-key-000000000';
    const res = await h.app.inject({ method: 'GET', url: '/v1/bars', headers: bearer(key) });
    expect(res.body).not.toContain(key);
  });

  test('the OpenAPI document declares the bearer scheme and every route', async () => {
    const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json<{
      components: { securitySchemes: Record<string, { scheme: string }> };
      paths: Record<string, unknown>;
    }>();
    expect(doc.components.securitySchemes.bearer.scheme).toBe('bearer');
    for (const p of ['/health', '/v1/bars', '/v1/bars/import', '/v1/backtests', '/v1/backtests/{id}', '/v1/backtests/{id}/trades', '/v1/backtests/{id}/cancel']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});

function TEST_KEY_WITHOUT_SCHEME(): string {
  return AUTH.viewer.authorization.replace(/^Bearer /, '');
}
