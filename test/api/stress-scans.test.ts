import type { Pool } from 'pg';
import { prepareScan } from '../../domain/scan/prepare';
import { storeBars, syntheticBars, testPool, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { localDocument } from '../helpers/scans';
import { testStack } from '../helpers/stack';
import { historySummaries } from '../helpers/user-metadata';
import { AUTH, startApi, type ApiHarness } from './harness';

/**
 * The stress-scan routes against the dev server with both worker processes: requests refused with a 400 before
 * anything starts, roles, a scan run to the end (its document equal to `scan --local --json`'s), cells sorted and
 * paged, cancel (and 409 once finished), search attributes and the Temporal UI summary.
 */
interface ErrorAnswer {
  error: { code: string; message: string; issues?: Array<{ in: string; path: string; message: string }> };
}

let h: ApiHarness;
let pool: Pool;
let workers: RunningProcess[] = [];
const symbol = uniqueSymbol('SCANAPI');
const bars = syntheticBars(3_000);
const big = uniqueSymbol('SCANBIG');
const settings = { strategy: 'sma-cross', commissionRate: 0.0005 };

beforeAll(async () => {
  const stack = testStack();
  const env = {
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000',
  };
  workers = [startWorker('cpu', env), startWorker('io', env)];
  h = await startApi();
  pool = testPool();
  await storeBars(pool, symbol, '1d', bars);
  await storeBars(pool, big, '1m', syntheticBars(40_000, 5, 60_000));
  await waitFor('both workers to report to /health', async () => (await h.app.inject({ method: 'GET', url: '/health' })).statusCode === 200, 60_000);
}, 90_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await pool?.end();
  await h?.close();
});

const post = (body: unknown, headers: Record<string, string> = AUTH.trader) => h.app.inject({ method: 'POST', url: '/v1/stress-scans', headers, payload: body as object });
const get = (url: string, headers: Record<string, string> = AUTH.viewer) => h.app.inject({ method: 'GET', url, headers });
const jobCount = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM stress_scan_jobs')).rows[0].n);
const scanWorkflows = async () => (await h.deps.temporal.workflow.count('WorkflowType="stressScanWorkflow"')).count;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test walks arbitrary JSON answers
type Json = Record<string, any>;

async function finished(id: string, timeoutMs = 60_000): Promise<Json> {
  return waitFor(`stress scan ${id} to finish`, async () => {
    const r = (await get(`/v1/stress-scans/${id}?cells=100000`)).json<Json>();
    return ['completed', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
  }, timeoutMs);
}

describe('POST /v1/stress-scans refuses what cannot run with a 400, before anything is written or started', () => {
  const grid = { fast: [5, 10], slow: [30, 60] };
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an empty grid', { symbol, settings, grid: {} }, 'grid', /needs a grid/],
    ['a 10-million-cell grid', { symbol, settings, grid: { fast: { from: 1, to: 10_000, step: 1 }, slow: { from: 1, to: 1_000, step: 1 } } }, 'grid', /10,000,000 cells.*limit is 100,000/],
    ['a grid limit above what the API runs', { symbol, settings, grid, maxCells: 10_000_000 }, 'maxCells', /at most 1,000,000 cells through the API/],
    ['an unknown parameter', { symbol, settings, grid: { speed: [1, 2] } }, 'grid.speed', /unknown parameter "speed"/],
    ['a train window longer than the stored bars', { symbol, type: 'optimization', settings, grid, walkForward: { trainBars: 3_001, testBars: 10 } }, 'walkForward.trainBars', /longer than the data \(3000 bars\)/],
    ['a window with no bars', { symbol, from: '2030-01-01', settings, grid }, 'symbol', /no bars stored for/],
    ['a symbol with no bars', { symbol: uniqueSymbol('NOBARS'), settings, grid }, 'symbol', /import some first/],
    ['a shock after the last bar', { symbol, type: 'black_swan', settings, blackSwan: { shocks: [{ kind: 'gap', pct: 0.1, at: '2035-01-01' }] } }, 'blackSwan.shocks.0.at', /after the last bar/],
    ['an unknown crisis', { symbol, type: 'black_swan', settings, blackSwan: { crises: ['tulips-1637'] } }, 'blackSwan.crises.0', /unknown crisis window/],
    ['constraints that leave no cell', { symbol, settings, grid, constraints: ['fast > slow'] }, 'constraints', /leave no cell/],
    ['a grid value of the wrong type', { symbol, settings, grid: { fast: ['5'] } }, 'grid.fast', /list of numbers|from/],
    ['an unknown field', { symbol, settings, grid, priority: 'high' }, '', /priority/],
  ];
  test.each(cases)('%s', async (_name, body, path, message) => {
    const [jobs, flows] = [await jobCount(), await scanWorkflows()];
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const issues = (res.json() as ErrorAnswer).error.issues ?? [];
    const issue = issues.find((i) => i.path === path);
    if (!issue) throw new Error(`no issue at "${path}" in ${JSON.stringify(issues)}`);
    expect(issue).toMatchObject({ in: 'body', message: expect.stringMatching(message) });
    expect([await jobCount(), await scanWorkflows()]).toEqual([jobs, flows]);
  });
});

test('roles: viewers read, traders start and cancel; no key is a 401', async () => {
  expect((await post({ symbol, settings, grid: { period: [5] } }, AUTH.viewer)).statusCode).toBe(403);
  expect((await h.app.inject({ method: 'POST', url: '/v1/stress-scans', payload: { symbol } })).statusCode).toBe(401);
  expect((await get('/v1/stress-scans', {})).statusCode).toBe(401);
  expect((await get('/v1/stress-scans')).statusCode).toBe(200);
  expect((await get('/v1/stress-scans/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  expect((await h.app.inject({ method: 'POST', url: '/v1/stress-scans/00000000-0000-4000-8000-000000000000/cancel', headers: AUTH.viewer })).statusCode).toBe(403);
});

describe('a scan through the API', () => {
  const spec = { settings, grid: { fast: { from: 2, to: 21, step: 1 }, slow: { from: 30, to: 59, step: 1 } }, objective: 'sortino', maxDrawdown: 0.35 };
  let id: string;
  let done: Json;

  beforeAll(async () => {
    const res = await post({ symbol, timeframe: '1d', ...spec });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'queued', runsTotal: 600, batches: 1, links: { self: expect.stringMatching(/^\/v1\/stress-scans\//) } });
    id = res.json().id;
    done = await finished(id);
  }, 90_000);

  test('finishes with the document scan --local --json prints, plus the job around it', async () => {
    expect(done).toMatchObject({ status: 'completed', progress: { phase: 'completed', runsDone: 600, runsTotal: 600, fraction: 1, source: 'job' }, cellsTotal: 600 });
    const { id: _id, workflowId: _w, status: _s, progress: _p, paramsVersion, requestedBy, error: _e, createdAt: _c, startedAt: _st, finishedAt: _f, links: _l, spec: stored, cellsTotal: _t, ...document } = done;
    expect(JSON.stringify(document)).toBe(localDocument(bars, prepareScan(spec), symbol, '1d'));
    expect(paramsVersion).toBe(prepareScan(spec).paramsVersion);
    expect(requestedBy).toBe('tom');
    expect(stored).toMatchObject({ type: 'param_scan', objective: 'sortino', maxDrawdown: 0.35, maxCells: 100_000 });
    const few = (await get(`/v1/stress-scans/${id}?cells=3`)).json();
    expect(few.cells.map((c: { rank: number }) => c.rank)).toEqual([1, 2, 3]);
    expect((await get(`/v1/stress-scans/${id}?cells=100001`)).statusCode).toBe(400);
  });

  test('cells: sorted by rank, a metric or the objective, paged; bad sorts are a 400', async () => {
    const page = (q: string) => get(`/v1/stress-scans/${id}/cells?${q}`).then((r) => r.json());
    const byRank = await page('limit=5');
    expect(byRank).toMatchObject({ total: 600, sort: 'rank', order: 'asc', limit: 5, offset: 0 });
    expect(byRank.cells).toEqual(done.cells.slice(0, 5));
    expect((await page('limit=5&offset=5')).cells).toEqual(done.cells.slice(5, 10));
    const sharpe = await page('sort=sharpe&limit=50');
    expect(sharpe.order).toBe('desc');
    const values = sharpe.cells.map((c: { metrics: { sharpe: number } }) => c.metrics.sharpe);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    const dd = (await page('sort=maxDrawdown&limit=600')).cells.map((c: { metrics: { maxDrawdown: number } }) => c.metrics.maxDrawdown);
    expect(dd).toEqual([...dd].sort((a, b) => a - b));
    const equity = (await page('sort=finalEquity&order=asc&limit=3')).cells.map((c: { finalEquity: number }) => c.finalEquity);
    expect(equity[0]).toBe(Math.min(...done.cells.map((c: { finalEquity: number }) => c.finalEquity)));
    for (const q of ['sort=bogus', 'sort=rank;drop', 'order=sideways', 'limit=0', 'limit=1001', 'offset=-1', 'extra=1']) {
      expect({ q, status: (await get(`/v1/stress-scans/${id}/cells?${q}`)).statusCode }).toEqual({ q, status: 400 });
    }
  });

  test('the workflow carries its search attributes and a summary for the Temporal UI', async () => {
    const d = await h.deps.temporal.workflow.getHandle(`stress-scan-${id}`).describe();
    expect(d.typedSearchAttributes.get({ name: 'JobType', type: 'KEYWORD' } as never)).toBe('stress_scan');
    expect(d.searchAttributes).toMatchObject({ JobType: ['stress_scan'], TradingSymbol: [symbol], StrategyName: ['sma-cross'] });
    expect(await d.staticSummary()).toMatch(new RegExp(`^param_scan · sma-cross · ${symbol} 1d · \\d{4}-\\d{2}-\\d{2}\\.\\.\\d{4}-\\d{2}-\\d{2} · 600 cells · 3,000 bars$`));
    expect(await historySummaries(h.deps.temporal.workflow.getHandle(`stress-scan-${id}`))).toEqual([
      { event: 'workflow', summary: await d.staticSummary() },
      { event: 'activity', summary: 'verify the scan job, mark it running' },
      { event: 'activity', summary: expect.stringMatching(/^cells 0\D+599$/) },
      { event: 'activity', summary: 'rank the cells, store the document' },
    ]);
    const listed = (await get('/v1/stress-scans?limit=100')).json().scans.map((s: { id: string }) => s.id);
    expect(listed).toContain(id);
  });

  test('cancelling a finished scan is a 409', async () => {
    const res = await h.app.inject({ method: 'POST', url: `/v1/stress-scans/${id}/cancel`, headers: AUTH.trader });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/already completed/);
  });
});

test('a running scan is cancelled through the API: its batches stop, the job says so', async () => {
  // 40k-bar minute series: 600 runs per batch, each batch about a second; 12,000 cells
  const res = await post({ symbol: big, timeframe: '1m', settings, grid: { fast: { from: 2, to: 121, step: 1 }, slow: { from: 200, to: 299, step: 1 } } });
  expect(res.statusCode).toBe(202);
  const { id } = res.json();
  await waitFor('the scan to store its first batch', async () => {
    const r = (await get(`/v1/stress-scans/${id}`)).json();
    return r.progress.source === 'workflow' && r.progress.runsDone > 0;
  }, 60_000);
  const cancel = await h.app.inject({ method: 'POST', url: `/v1/stress-scans/${id}/cancel`, headers: AUTH.trader, payload: { reason: 'enough' } });
  expect(cancel.statusCode).toBe(202);
  const end = await finished(id);
  expect(end).toMatchObject({ status: 'cancelled', progress: { phase: 'cancelled', source: 'job' } });
  expect(end.cellsTotal).toBeLessThan(12_000);
  expect(end.cells).toBeUndefined();
  expect((await h.app.inject({ method: 'POST', url: `/v1/stress-scans/${id}/cancel`, headers: AUTH.trader })).statusCode).toBe(409);
}, 90_000);
