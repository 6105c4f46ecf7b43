import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { buildApp } from '../../clients/api/app';
import { connectTemporal } from '../../platform/temporal';
import { runBacktest } from '../../domain/backtest/engine';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { sliceBars } from '../../domain/bars';
import { parseOhlcvCsv } from '../../domain/csv';
import { loadConfig } from '../../platform/config';
import { createLogger } from '../../platform/logger';
import { startTsx, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, testStack } from '../helpers/stack';
import { uniqueSymbol } from '../helpers/db';
import { historySummaries } from '../helpers/user-metadata';

/**
 * The vertical slice for real: both worker processes on the dev server, the API on real Postgres and Redis,
 * a CSV from ../shared/data imported through the API, a backtest run through the API, the persisted result read back.
 * Canary secrets planted in the config must appear in no log, response or workflow history.
 */
const CANARY = {
  traderKey: 'canary-trader-key-7f3a91c2e4',
  viewerKey: 'canary-viewer-key-b81d22a6f0',
  dbPassword: 'canary-db-password-5e6f7a8b',
};

let app: FastifyInstance;
let workers: RunningProcess[] = [];
let pool: Pool;
let redis: Redis;
let temporal: Awaited<ReturnType<typeof connectTemporal>>;
const apiLogs: string[] = [];
const responses: string[] = [];
const symbol = uniqueSymbol('ORCL');

function databaseUrlWithCanary(): string {
  const u = new URL(testStack().DATABASE_URL);
  u.username = u.username || 'app';
  u.password = CANARY.dbPassword; // local Postgres trusts loopback, so the password only has to be carried, and hidden
  return u.toString();
}

beforeAll(async () => {
  const stack = testStack();
  const env = {
    DATABASE_URL: databaseUrlWithCanary(),
    REDIS_URL: stack.REDIS_URL,
    TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR,
    API_KEYS: `${CANARY.traderKey}:trader:tom,${CANARY.viewerKey}:viewer:vera`,
    LOG_LEVEL: 'debug',
    SHUTDOWN_GRACE_MS: '2000',
    SHUTDOWN_FORCE_MS: '5000',
  };
  const config = loadConfig(env);
  workers = [startTsx('workers/cpu-worker.ts', env), startTsx('workers/io-worker.ts', env)];
  pool = new Pool({ connectionString: config.DATABASE_URL, max: 4 });
  redis = new Redis(config.REDIS_URL);
  temporal = await connectTemporal(config);
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (apiLogs.push(chunk.toString()), cb()) });
  app = await buildApp({ config, db: pool, redis, temporal: temporal.client, logger: createLogger('debug', { service: 'api' }, sink) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await temporal?.connection.close();
  redis?.disconnect();
  await pool?.end();
});

async function call(method: 'GET' | 'POST', url: string, key: string, body?: unknown, contentType = 'application/json') {
  const res = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  responses.push(res.body);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test walks arbitrary JSON answers
  return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as Record<string, any>) : {} };
}

test('import a CSV, run a backtest through the API on both workers, read the persisted result', async () => {
  const health = await waitFor('both workers to report to /health', async () => {
    const h = await call('GET', '/health', CANARY.viewerKey);
    return h.status === 200 && h.body.checks.workers.cpu >= 1 && h.body.checks.workers.io >= 1 ? h : undefined;
  });
  expect(health.body.status).toBe('up');

  const csv = readFileSync(path.join(SHARED_DATA, 'orcl-1995-2014.txt'), 'utf8');
  const imported = await call('POST', `/v1/bars/import?symbol=${symbol}&timeframe=1d`, CANARY.traderKey, csv, 'text/csv');
  expect(imported.status).toBe(200);
  expect(imported.body).toMatchObject({ accepted: 5036, inserted: 5036, duplicates: 0, rejected: 0 });

  const request = { symbol, timeframe: '1d', from: '2000-01-01', to: '2010-12-31', strategy: 'sma-cross', params: { fast: 10, slow: 30 }, commissionRate: 0.001 };
  const started = await call('POST', '/v1/backtests', CANARY.traderKey, request);
  expect(started.status).toBe(202);
  expect(started.body.workflowId).toBe(`backtest-${started.body.id}`);

  const done = await waitFor('the backtest to complete', async () => {
    const r = await call('GET', `/v1/backtests/${started.body.id}`, CANARY.viewerKey);
    expect(r.body.status).not.toBe('failed');
    return r.body.status === 'completed' ? r : undefined;
  }, 60_000);

  // The same bars and settings in process give the same answer as the persisted result.
  const parsed = parseOhlcvCsv(csv, {});
  const from = Date.UTC(2000, 0, 1);
  const to = Date.UTC(2010, 11, 31, 23, 59, 59, 999);
  let lo = 0;
  while (parsed.bars.ts[lo] < from) lo++;
  let hi = lo;
  while (hi < parsed.bars.length && parsed.bars.ts[hi] <= to) hi++;
  const expected = runBacktest(sliceBars(parsed.bars, lo, hi), parseBacktestSettings({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, commissionRate: 0.001 }));

  const { rows } = await pool.query('SELECT r.bars, r.final_equity, (SELECT count(*) FROM backtest_trades t WHERE t.job_id = r.job_id)::int AS trades FROM backtest_results r WHERE job_id = $1', [started.body.id]);
  expect(rows[0]).toEqual({ bars: hi - lo, final_equity: expect.any(Number), trades: expected.trades.length });
  expect(rows[0].final_equity).toBeCloseTo(expected.finalEquity, 6);
  expect(done.body.result.finalEquity).toBeCloseTo(expected.finalEquity, 6);
  // the default sizing is stated in the job's settings and the result's assumptions
  expect(done.body.settings.sizing).toEqual({ mode: 'equity-fraction', fraction: 0.95 });
  expect(done.body.result.assumptions.sizing).toEqual({ mode: 'equity-fraction', fraction: 0.95 });
  expect(done.body.progress).toMatchObject({ phase: 'completed', fraction: 1 });

  // Canaries: no secret in API logs, worker logs, API responses or the workflow's history.
  const handle = temporal.client.workflow.getHandle(started.body.workflowId);
  const history = JSON.stringify(await handle.fetchHistory());
  // The Temporal UI reads like a log: the job at a glance, and each step.
  expect(await (await handle.describe()).staticSummary()).toBe(`backtest sma-cross · ${symbol} 1d · 2000-01-01..2010-12-31`);
  expect(await historySummaries(handle)).toEqual([
    { event: 'workflow', summary: `backtest sma-cross · ${symbol} 1d · 2000-01-01..2010-12-31` },
    { event: 'activity', summary: 'verify the job, mark it running' },
    { event: 'activity', summary: `backtest sma-cross · ${symbol} 1d · 2000-01-01..2010-12-31` },
    { event: 'activity', summary: `completed · ${(hi - lo).toLocaleString('en-US')} bars, ${expected.trades.length} trades` },
  ]);
  const haystacks = { apiLogs: apiLogs.join(''), workerLogs: workers.map((w) => w.output()).join(''), responses: responses.join('\n'), history };
  expect(haystacks.workerLogs.length).toBeGreaterThan(100); // the workers did log (at debug level)
  for (const [where, text] of Object.entries(haystacks)) {
    for (const canary of Object.values(CANARY)) expect({ where, found: text.includes(canary) }).toEqual({ where, found: false });
  }
});

test('workers shut down gracefully on SIGTERM and drop their heartbeat', async () => {
  const codes = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
  expect(codes).toEqual([0, 0]);
  const h = await call('GET', '/health', CANARY.viewerKey);
  expect(h.status).toBe(503);
  expect(h.body.checks.workers).toMatchObject({ cpu: 0, io: 0 });
});
