/**
 * The feed's refresh and the backfill workflow against the local fake of Alpaca's bars API (harness/fake-alpaca-data)
 * behind the shared Redis guard, with real Postgres and Redis: multi-symbol pages, a gap filled inline, a new series'
 * warm-up, an invalid bar skipped (a missing bar), a late bar polled for, a 429 with Retry-After; and a backfill job
 * on the Temporal dev server (two chunks, pages, a 429 retried, incremental then full mode).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { createMarketDataBackfillActivities } from '../../activities/market-data-backfill';
import { CallGuard } from '../../brokers/guard/call-guard';
import { GuardSettingsSchema } from '../../brokers/guard/settings';
import { getBackfill, insertBackfill } from '../../db/sql/market-data-backfills';
import { listMarketDataEvents } from '../../db/sql/market-data-events';
import { upsertFeed } from '../../db/sql/market-data-feeds';
import { listQualityOfDay } from '../../db/sql/market-data-quality';
import { calendarBars } from '../../domain/marketdata/calendar-bars';
import { startFakeAlpacaData, type FakeAlpacaData } from '../../harness/fake-alpaca-data/server';
import { AlpacaMarketData } from '../../marketdata/alpaca';
import { BarCache } from '../../marketdata/cache';
import { MarketDataUnavailableError } from '../../marketdata/provider';
import { DEFAULT_REFRESH_SETTINGS, refreshFeed, type RefreshDeps } from '../../marketdata/refresh';
import { readWatermark } from '../../marketdata/watermark';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { backfillProgressQuery, backfillWorkflowId } from '../../workflows/market-data/messages';
import type { marketDataBackfillWorkflow } from '../../workflows/market-data/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';
import { barsToColumns } from '../../marketdata/port';

const MIN = 60_000;
const Z = (iso: string) => Date.parse(`${iso}Z`);
const KEY = { keyId: 'fake-key-id-feed', secretKey: 'fake-secret-feed-abc' };
/** Friday 2024-03-08 10:31 New York: the bar 10:30-10:31 has just closed */
const CLOSE = Z('2024-03-08T15:31');
const SETTLE = 2_000;

let fake: FakeAlpacaData;
let redis: Redis;
let pool: Pool;
/** data time = CLOSE + settle + the wall time since the test set it (the fake and the refresh share it) */
let clockBase = CLOSE + SETTLE;
let wallBase = Date.now();
const now = () => clockBase + (Date.now() - wallBase);

function provider(pageSize = 5) {
  const settings = GuardSettingsSchema.parse({ key: `alpaca-data:feed-${randomUUID().slice(0, 8)}`, limits: { perMinute: 600, burst: 5, maxWaitMs: 5_000 } });
  const guard = new CallGuard(redis, { debug: () => undefined, info: () => undefined, warn: () => undefined }, settings, 'market data');
  return new AlpacaMarketData({ baseUrl: fake.url, credentials: () => KEY, pageSize, guard });
}

beforeAll(async () => {
  fake = await startFakeAlpacaData({ ...KEY, rateLimitPerMin: 10_000, now, generated: { symbols: true, calendar: 'XNYS' } });
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
  pool = testPool();
});

afterAll(async () => {
  await pool?.query(`UPDATE deployments SET status = 'stopped' WHERE account_id = 'md-alpaca'`);
  await fake?.close();
  redis?.disconnect();
  await pool?.end();
});

async function deployment(symbols: string[]) {
  const spec = { strategy: 'sma-cross', symbols, timeframe: '1m', accountId: 'md-alpaca', dataProvider: 'alpaca' };
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, params_version, status, created_by) VALUES ($1, $2, 'md-alpaca', 'paper', 'sma-cross', $3, 1, 'running', 'test')`, [randomUUID(), `deployment-${randomUUID()}`, JSON.stringify(spec)]);
}

const opensOf = async (symbol: string) => (await pool.query<{ t: number }>(`SELECT (extract(epoch from ts) * 1000)::float8 AS t FROM bars WHERE symbol = $1 AND timeframe = '1m' ORDER BY ts`, [symbol])).rows.map((r) => Number(r.t));
const minutes = (from: number, to: number) => Array.from({ length: (to - from) / MIN + 1 }, (_, i) => from + i * MIN);

test('a refresh at a bar close: pages, a gap filled inline, a warm-up, an invalid bar skipped, a late bar polled for, then the watermark; a 429 fails the attempt and the retry waits out Retry-After', async () => {
  const [gapped, fresh, broken, late] = ['GAP', 'NEW', 'BAD', 'LATE'].map((p) => uniqueSymbol(p));
  await deployment([gapped!, fresh!, broken!, late!]);
  // the fake's own bars for the stored history: the series look as if a feed had stored them before
  const history = async (symbol: string, from: number, to: number) => {
    const got = await provider(10_000).fetchBars({ symbols: [symbol], timeframe: '1m', fromMs: from, toMs: to });
    await storeBars(pool, symbol, '1m', barsToColumns(got.get(symbol)!));
  };
  await history(gapped!, Z('2024-03-08T14:30'), Z('2024-03-08T15:20')); // stops at 10:20: 10:21..10:29 missing
  await history(broken!, Z('2024-03-08T14:30'), Z('2024-03-08T15:29'));
  await history(late!, Z('2024-03-08T14:30'), Z('2024-03-08T15:29'));
  fake.market.corruptBar(broken!, CLOSE - MIN, { high: -1 });
  // Published 4.5 s after its close: after the retry's first pass (at about CLOSE + SETTLE + the 1 s Retry-After), well
  // inside its late wait (4 s from that pass). At 3.2 s a loaded machine's first pass already found it on time.
  fake.market.delay(late!, CLOSE - MIN, SETTLE + 2_500);
  const feed = await upsertFeed(pool, { provider: 'alpaca', timeframe: '1m', calendar: 'XNYS', settleMs: SETTLE, clock: null, clockKey: null });
  const settings = { ...DEFAULT_REFRESH_SETTINGS, lateBarWaitMs: 4_000, latePollMs: 1_000, warmupBars: 30 };
  const deps: RefreshDeps = { db: pool, redis, cache: new BarCache(redis), settings, now, heartbeat: () => undefined };

  fake.faults.push('429');
  fake.requests.length = 0;
  clockBase = CLOSE + SETTLE;
  wallBase = Date.now();
  const alpaca = provider(); // one guard key: the account's
  await expect(refreshFeed(deps, feed, alpaca, CLOSE)).rejects.toBeInstanceOf(MarketDataUnavailableError);
  const retried = Date.now();
  // The retry sees the bar close as the first attempt did: the 429's own time is not counted against the late bar.
  clockBase = CLOSE + SETTLE;
  wallBase = Date.now();
  const s = await refreshFeed(deps, feed, alpaca, CLOSE);
  expect(fake.requests[0]!.status).toBe(429);
  // the shared guard held the retry until Retry-After (1 s) had passed
  expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(900);
  expect(Date.now() - retried).toBeLessThan(20_000);

  expect(s).toMatchObject({ symbols: 4, onTime: 2, late: 1, missing: 1, gaps: 1, invalid: 1 });
  expect(await opensOf(gapped!)).toEqual(minutes(Z('2024-03-08T14:30'), CLOSE - MIN)); // the gap and T, in one statement
  expect(await opensOf(fresh!)).toEqual(minutes(CLOSE - 31 * MIN, CLOSE - MIN)); // 30 bars of warm-up and T
  expect((await opensOf(broken!)).at(-1)).toBe(CLOSE - 2 * MIN); // the invalid bar was not stored
  expect((await opensOf(late!)).at(-1)).toBe(CLOSE - MIN);
  // pages of 5 bars: the first pass asked for several pages (multi-symbol requests)
  expect(fake.requests.filter((r) => r.status === 200 && r.query.page_token).length).toBeGreaterThan(3);
  expect(await readWatermark(pool, redis, 'alpaca', '1m')).toBe(CLOSE);

  const kinds = async (symbol: string) => (await listMarketDataEvents(pool, { symbol }, 20)).map((e) => e.kind).sort();
  expect(await kinds(gapped!)).toEqual(['backfill_done', 'gap_found']);
  expect(await kinds(broken!)).toEqual(['invalid_bars', 'missing_bar']);
  expect(await kinds(late!)).toEqual(expect.arrayContaining(['late_bar']));
  const q = await listQualityOfDay(pool, '2024-03-08', { provider: 'alpaca' });
  const mine = new Map(q.map((r) => [r.symbol, r]));
  expect(mine.get(broken!)).toMatchObject({ invalid: 1, received: 60, expected: 61 });
  expect(mine.get(gapped!)).toMatchObject({ gaps: 1, received: 61, expected: 61, level: 'OK' });
  expect(mine.get(fresh!)).toMatchObject({ received: 31, expected: 61, level: 'ERROR' }); // 49 % missing today
  // at ERROR: one alert through the outbox, deduplicated per symbol and day
  const alerts = await pool.query(`SELECT dedupe_key FROM notifications WHERE kind = 'marketdata.quality' AND dedupe_key LIKE $1`, [`%:${fresh}:2024-03-08`]);
  expect(alerts.rows).toHaveLength(1);
  // a second refresh of the same bar stores nothing and alerts nothing more
  const again = await refreshFeed(deps, feed, alpaca, CLOSE);
  expect(again).toMatchObject({ stored: 0, alerts: 0 });
});

describe('a backfill job on the dev server', () => {
  let nativeConnection: NativeConnection;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    const stack = testStack();
    nativeConnection = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
    connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
  });
  afterAll(async () => {
    await connection?.close();
    await nativeConnection?.close();
  });

  async function run(id: string) {
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace: testStack().TEMPORAL_NAMESPACE,
      taskQueue: TASK_QUEUES.io,
      workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
      activities: createMarketDataBackfillActivities({ db: pool, cache: new BarCache(redis), providers: { alpaca: provider(1_000) } }),
    });
    return worker.runUntil(async () => {
      const handle = await client.workflow.start<typeof marketDataBackfillWorkflow>('marketDataBackfillWorkflow', { workflowId: backfillWorkflowId(id), taskQueue: TASK_QUEUES.io, args: [{ backfillId: id }] });
      // the progress query while it runs (each query awaited, so none is left in flight)
      const seen: number[] = [];
      let finished = false;
      const result = handle.result().finally(() => (finished = true));
      while (!finished) {
        seen.push(await handle.query(backfillProgressQuery).then((p) => p.done, () => -1));
        await new Promise((r) => setTimeout(r, 50));
      }
      return { result: await result, seen: seen.filter((d) => d >= 0) };
    });
  }

  test('incremental fills only what is missing, in two chunks, through pages and a 429; full replaces a corrected bar', async () => {
    const symbol = uniqueSymbol('BF');
    const from = Z('2024-03-04T14:30');
    const to = Z('2024-03-15T19:59'); // ten sessions (DST starts on the 10th), 3,900 bars
    const all = calendarBars('XNYS', '1m', from, to);
    expect(all).toHaveLength(3_900);
    // the first session is stored already
    const first = await provider(10_000).fetchBars({ symbols: [symbol], timeframe: '1m', fromMs: from, toMs: Z('2024-03-04T20:59') });
    await storeBars(pool, symbol, '1m', barsToColumns(first.get(symbol)!));
    clockBase = Date.now();
    wallBase = Date.now();
    const id = randomUUID();
    await insertBackfill(pool, { id, workflowId: backfillWorkflowId(id), provider: 'alpaca', symbol, timeframe: '1m', fromMs: from, toMs: to, mode: 'incremental', requestedBy: 'test' });
    fake.requests.length = 0;
    fake.faults.push('429');
    const { result, seen } = await run(id);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen).toContain(2_000); // after the first chunk
    expect(result).toMatchObject({ status: 'completed', expected: 3_900, done: 3_900, stored: 3_510, replaced: 0, invalid: 0, cursorMs: null });
    expect(await opensOf(symbol)).toEqual(all.map((b) => b.open));
    expect(fake.requests[0]!.status).toBe(429);
    expect(fake.requests.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(4); // 3,510 bars at 1,000 a page
    expect(await getBackfill(pool, id)).toMatchObject({ status: 'completed', expected: 3_900, stored: 3_510 });
    expect((await listMarketDataEvents(pool, { symbol, kind: 'backfill_done' }, 5))[0]).toMatchObject({ fromMs: from, toMs: to, bars: 3_510 });

    // a stored bar was wrong: full mode fetches the whole range again and replaces it
    await pool.query(`UPDATE bars SET close = close + 1, high = high + 1 WHERE symbol = $1 AND timeframe = '1m' AND ts = to_timestamp($2 / 1000.0)`, [symbol, all[1000]!.open]);
    const id2 = randomUUID();
    await insertBackfill(pool, { id: id2, workflowId: backfillWorkflowId(id2), provider: 'alpaca', symbol, timeframe: '1m', fromMs: from, toMs: to, mode: 'full', requestedBy: 'test' });
    const full = await run(id2);
    expect(full.result).toMatchObject({ status: 'completed', fetched: 3_900, stored: 0, replaced: 1 });
  });
});
