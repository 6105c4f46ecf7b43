/**
 * Every route of the app (enumerated from the app itself, so routes added later are covered too) gets absent,
 * empty and wrong-typed bodies. Each answer is below 500, a 4xx for every route that takes a body, in the one
 * error shape with the request id; and nothing was written or started.
 */
import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { routeTableOf } from '../../clients/api/route-table';
import { startWorkerHeartbeat } from '../../platform/heartbeat';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { AUTH, startApi, type ApiHarness } from './harness';

interface ErrorAnswer {
  error: { code: string; message: string; requestId: string; issues?: Array<{ in: string; path: string; message: string }> };
}

const CANARY = 'canary-7f3a91';
const json = { 'content-type': 'application/json' };

/** The bodies of the issue: none, empty, null, an array, a string, a number, the wrong media type, broken JSON. */
const BODIES: Array<[string, Pick<InjectOptions, 'payload' | 'headers'>]> = [
  ['no body and no Content-Type', {}],
  ['an empty body as application/json', { payload: '', headers: json }],
  ['null', { payload: 'null', headers: json }],
  ['a JSON array', { payload: `[1,"${CANARY}"]`, headers: json }],
  ['a JSON string', { payload: `"${CANARY}"`, headers: json }],
  ['a JSON number', { payload: '42', headers: json }],
  ['a body of the wrong content type', { payload: `<x>${CANARY}</x>`, headers: { 'content-type': 'application/xml' } }],
  ['malformed JSON', { payload: `{"${CANARY}": `, headers: json }],
];

/**
 * Query strings that let a route's validation pass, so that its body handling is what is exercised (without
 * them the import would stop at its missing symbol). A route not listed here is called without a query.
 */
const VALID_QUERY: Record<string, string> = {
  'POST /v1/bars/import': 'symbol=BADBODY&timeframe=1d',
};

const BODYLESS = new Set(['GET', 'HEAD']);

let h: ApiHarness;
const beats: Array<{ stop(): Promise<void> }> = [];
beforeAll(async () => {
  h = await startApi();
  // /health is 200 only with live workers on both queues (a 503 there is health, not a refused body)
  for (const q of [TASK_QUEUES.cpu, TASK_QUEUES.io]) beats.push(startWorkerHeartbeat(h.redis, q, `bad-bodies-${q}-${randomUUID()}`, () => undefined));
});
afterAll(async () => {
  await Promise.all(beats.map((b) => b.stop()));
  await h?.close();
});

/** Row counts of every table of the app's schema. */
async function tableCounts(): Promise<Record<string, number>> {
  const { rows: tables } = await h.db.query<{ name: string }>(
    "SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const out: Record<string, number> = {};
  for (const { name } of tables) out[name] = Number((await h.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`)).rows[0].n);
  return out;
}

function concrete(url: string, id: string): string {
  return url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? id : seg === '*' ? 'index.html' : seg))
    .join('/');
}

test('the route table holds every route of the app, including the ones added after this test was written', () => {
  const keys = routeTableOf(h.app).routes.map((r) => `${r.method} ${r.url}`);
  // a sample of known routes, and more than this sample: the list comes from the app, not from this file
  for (const k of ['POST /v1/bars/import', 'POST /v1/backtests', 'POST /v1/deployments/:id/pause', 'POST /v1/kill-switch', 'GET /health']) expect(keys).toContain(k);
  expect(keys.length).toBeGreaterThan(30);
});

test('absent, empty and wrong-typed bodies to every route: 4xx in the one error shape, nothing written or started', async () => {
  const countsBefore = await tableCounts();
  const workflowsBefore = (await h.deps.temporal.workflow.count()).count;
  const id = randomUUID();
  const failures: string[] = [];
  let calls = 0;
  for (const route of routeTableOf(h.app).routes) {
    const key = `${route.method} ${route.url}`;
    const query = VALID_QUERY[key];
    const url = concrete(route.url, id) + (query ? `?${query}` : '');
    for (const [name, body] of BODIES) {
      const res = await h.app.inject({ method: route.method as InjectOptions['method'], url, ...body, headers: { ...AUTH.admin, ...body.headers } });
      calls++;
      const where = `${key} with ${name}: ${res.statusCode}`;
      if (res.statusCode >= 500) failures.push(`${where} ${res.body.slice(0, 200)}`);
      if (!BODYLESS.has(route.method) && res.statusCode < 400) failures.push(`${where} (a route that takes a body accepted it)`);
      // a HEAD answer has no body to check
      if (res.statusCode < 400 || route.method === 'HEAD') continue;
      let answer: ErrorAnswer;
      try {
        answer = res.json<ErrorAnswer>();
      } catch {
        failures.push(`${where} not JSON: ${res.body.slice(0, 200)}`);
        continue;
      }
      const e = answer.error;
      const shapeOk =
        Object.keys(answer).length === 1 &&
        typeof e?.code === 'string' &&
        typeof e.message === 'string' &&
        e.requestId === res.headers['x-request-id'] &&
        Object.keys(e).every((k) => ['code', 'message', 'issues', 'requestId'].includes(k));
      if (!shapeOk) failures.push(`${where} not in the error shape: ${res.body.slice(0, 200)}`);
      if (res.body.includes(CANARY)) failures.push(`${where} echoes the body: ${res.body.slice(0, 200)}`);
    }
  }
  expect(failures).toEqual([]);
  expect(calls).toBeGreaterThan(200);
  expect(await tableCounts()).toEqual(countsBefore);
  expect((await h.deps.temporal.workflow.count()).count).toBe(workflowsBefore);
});
