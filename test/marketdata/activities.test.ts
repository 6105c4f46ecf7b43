/**
 * refreshBars and loadRecentBars with real Postgres and Redis (MockActivityEnvironment is only the activity
 * context): idempotent refresh with rejects counted, chunking with heartbeats and resume, Redis down during a
 * refresh (cached: false) and the cache healing afterwards, Redis-then-Postgres reads with a fail-fast client on a
 * closed port, stale detection, both stores down, and provider failures as typed ApplicationFailures.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createMarketDataActivities, type LoadRecentBarsInput, type LoadRecentBarsResult, type MarketDataActivities, type MarketDataDeps, type RefreshBarsInput, type RefreshBarsResult } from '../../activities/market-data';
import { AlpacaMarketData } from '../../marketdata/alpaca';
import { BarCache } from '../../marketdata/cache';
import { barsToColumns, MarketDataRequestError, MarketDataUnavailableError, type Bar, type BarQuery, type MarketDataProvider } from '../../marketdata/port';
import { ReplayProvider } from '../../marketdata/replay';
import { selectLatestBars } from '../../marketdata/sql';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { startFakeAlpaca } from './fake-alpaca';
import { bars, closedPort, failFastRedis, memoryLogger } from './helpers';

const MIN = 60_000;
/** Tuesday 2024-01-02 09:30 New York */
const OPEN = Date.UTC(2024, 0, 2, 14, 30);
const PREFIX = 'test:md:act';

/** Serves a fixed list of bars by range and limit, counting calls; optionally throws instead. */
class ListProvider implements MarketDataProvider {
  calls: BarQuery[] = [];
  failWith: Error | undefined;
  constructor(
    readonly name: string,
    private readonly list: Bar[],
  ) {}
  async fetchBars(q: BarQuery): Promise<Bar[]> {
    this.calls.push(q);
    if (this.failWith) throw this.failWith;
    const inRange = this.list.filter((b) => b.ts >= q.fromMs && b.ts <= q.toMs).sort((a, b) => a.ts - b.ts);
    return inRange.slice(0, q.limit ?? inRange.length);
  }
}

let pool: Pool;
let redis: Redis;
const downClients: Redis[] = [];

beforeAll(() => {
  pool = testPool();
  redis = new Redis(testStack().REDIS_URL);
});
afterAll(async () => {
  for (const c of downClients) c.disconnect();
  await redis.quit();
  await pool.end();
});

async function redisDown(): Promise<Redis> {
  const c = failFastRedis(`redis://127.0.0.1:${await closedPort()}`);
  downClients.push(c);
  return c;
}

function activities(overrides: Partial<MarketDataDeps> & Pick<MarketDataDeps, 'providers'>) {
  return createMarketDataActivities({ db: pool, redis, now: () => OPEN + 60 * MIN, cache: { prefix: PREFIX }, ...overrides });
}

function env(info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}) {
  const log = memoryLogger();
  const e = new MockActivityEnvironment(info, { logger: log.logger });
  const heartbeats: unknown[] = [];
  e.on('heartbeat', (d: unknown) => heartbeats.push(d));
  return { env: e, logs: log.entries, heartbeats };
}

const refresh = (e: MockActivityEnvironment, acts: MarketDataActivities, input: RefreshBarsInput): Promise<RefreshBarsResult> => e.run(acts.refreshBars, input);
const load = (e: MockActivityEnvironment, acts: MarketDataActivities, input: LoadRecentBarsInput): Promise<LoadRecentBarsResult> => e.run(acts.loadRecentBars, input);

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

describe('refreshBars', () => {
  test('stores valid bars in Postgres and Redis, counts rejects, and is idempotent', async () => {
    const sym = uniqueSymbol('R');
    const good = bars(60, OPEN, MIN); // 09:30..10:29, all closed by now = 10:30
    const bad: Bar[] = [
      { ...good[5], ts: OPEN + 70 * MIN, low: good[5].high + 1 }, // low above high
      { ...good[6], ts: OPEN + 71 * MIN + 1_000 }, // not on a minute
      { ...good[7], ts: OPEN + 90 * MIN }, // opens after now
    ];
    const provider = new ListProvider('list', [...good, ...bad]);
    const acts = activities({ providers: { list: provider } });
    const input = { provider: 'list', symbol: sym, timeframe: '1m' as const, fromMs: OPEN, toMs: OPEN + 3 * 60 * MIN };

    const { env: e1, logs } = env();
    const first = await refresh(e1, acts, input);
    expect(first).toMatchObject({ fetched: 63, stored: 60, rejected: 3, cached: true });
    expect(first.quality).toMatchObject({ level: 'OK', missingRate: 0, delayMs: 0, rejected: 3, expected: 60, received: 60 });
    expect(logs.some((l) => l.level === 'WARN' && /rejected/.test(l.message))).toBe(true);
    expect(await selectLatestBars(pool, sym, '1m', OPEN + 10 * 60 * MIN, 500)).toEqual(good);
    expect(await new BarCache(redis, { prefix: PREFIX }).getRecentBars(sym, '1m', 500, OPEN + 10 * 60 * MIN)).toEqual(good);

    const { env: e2 } = env();
    const second = await refresh(e2, acts, input);
    expect(second).toMatchObject({ fetched: 63, stored: 0, rejected: 3, cached: true });
    expect(await selectLatestBars(pool, sym, '1m', OPEN + 10 * 60 * MIN, 500)).toHaveLength(60);
    expect(await redis.zcard(`${PREFIX}:${sym}:1m`)).toBe(60);
  });

  test('a bar still forming is skipped (neither stored nor rejected) and stored once it has closed', async () => {
    const sym = uniqueSymbol('R');
    const list = bars(61, OPEN, MIN); // the last one opens at 10:30 = now, so it is still forming
    const provider = new ListProvider('list', list);
    let nowMs = OPEN + 60 * MIN;
    const acts = activities({ providers: { list: provider }, now: () => nowMs });
    const input = { provider: 'list', symbol: sym, timeframe: '1m' as const, fromMs: OPEN, toMs: OPEN + 2 * 60 * MIN };
    expect(await refresh(env().env, acts, input)).toMatchObject({ fetched: 61, stored: 60, rejected: 0 });
    nowMs += MIN;
    expect(await refresh(env().env, acts, input)).toMatchObject({ fetched: 61, stored: 1, rejected: 0 });
    expect(await selectLatestBars(pool, sym, '1m', nowMs, 500)).toEqual(list);
  });

  test('missing bars in the range lower the quality level', async () => {
    const sym = uniqueSymbol('R');
    const some = bars(60, OPEN, MIN).filter((_, i) => i % 5 !== 0); // 20% missing
    const acts = activities({ providers: { list: new ListProvider('list', some) } });
    const { env: e } = env();
    const r = await refresh(e, acts, { provider: 'list', symbol: sym, timeframe: '1m', fromMs: OPEN, toMs: OPEN + 59 * MIN });
    expect(r.quality).toMatchObject({ level: 'WARNING', missingRate: 0.2, expected: 60, received: 48 });
  });

  test('long backfills go in chunks with a heartbeat each, and a retry resumes from the last heartbeat', async () => {
    const sym = uniqueSymbol('R');
    const provider = new ListProvider('list', bars(50, OPEN, MIN));
    const acts = activities({ providers: { list: provider }, chunkBars: 20 });
    const input = { provider: 'list', symbol: sym, timeframe: '1m' as const, fromMs: OPEN, toMs: OPEN + 59 * MIN };
    const { env: e, heartbeats } = env();
    const r = await refresh(e, acts, input);
    expect(r).toMatchObject({ fetched: 50, stored: 50, rejected: 0 });
    expect(provider.calls.map((c) => c.fromMs)).toEqual([OPEN, OPEN + 19 * MIN + 1, OPEN + 39 * MIN + 1]); // from the last bar + 1 ms
    expect(heartbeats).toHaveLength(3);
    expect(heartbeats[1]).toMatchObject({ nextFromMs: OPEN + 39 * MIN + 1, fetched: 40, stored: 40 });

    // a retry that finds the second heartbeat starts where it left off
    provider.calls.length = 0;
    const { env: retry } = env({ heartbeatDetails: heartbeats[1] });
    const resumed = await refresh(retry, acts, input);
    expect(provider.calls.map((c) => c.fromMs)).toEqual([OPEN + 39 * MIN + 1]);
    expect(resumed).toMatchObject({ fetched: 50, stored: 40, rejected: 0 }); // counts carried over; the 10 bars were stored already
  });

  test('Redis down does not fail the refresh: stored in Postgres, cached: false, a warning logged; the cache heals later', async () => {
    const sym = uniqueSymbol('R');
    const all = bars(90, OPEN, MIN);
    const provider = new ListProvider('list', all);
    const cache = new BarCache(redis, { prefix: PREFIX });
    const run = async (client: Redis, from: number, to: number) => {
      const { env: e, logs } = env();
      const acts = activities({ providers: { list: provider }, redis: client, now: () => OPEN + 120 * MIN });
      return { result: await refresh(e, acts, { provider: 'list', symbol: sym, timeframe: '1m', fromMs: OPEN + from * MIN, toMs: OPEN + to * MIN }), logs };
    };

    expect((await run(redis, 0, 29)).result.cached).toBe(true);
    const t0 = Date.now();
    const down = await run(await redisDown(), 30, 59);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(down.result).toMatchObject({ fetched: 30, stored: 30, cached: false });
    expect(down.logs.some((l) => l.level === 'WARN' && /redis unavailable/.test(l.message))).toBe(true);
    expect(await cache.span(sym, '1m')).toMatchObject({ lastTs: OPEN + 29 * MIN }); // the cache missed 30..59

    // Redis is back: the next refresh sees the hole and re-seeds the cache from Postgres
    expect((await run(redis, 60, 89)).result.cached).toBe(true);
    expect(await cache.getRecentBars(sym, '1m', 500, OPEN + 200 * MIN)).toEqual(all);
  });

  test('a replay provider refreshes only the bars that have closed in data time', async () => {
    const source = uniqueSymbol('SRC');
    const served = uniqueSymbol('DEP');
    await storeBars(pool, source, '1m', barsToColumns(bars(100, OPEN, MIN)));
    const wallStart = Date.UTC(2030, 0, 1);
    const replay = new ReplayProvider({ db: pool, clock: { dataStartMs: OPEN, wallStartMs: wallStart, speed: 60 }, now: () => wallStart + 10_000, symbols: { [served]: source } });
    const acts = activities({ providers: { replay } });
    const { env: e } = env();
    const r = await refresh(e, acts, { provider: 'replay', symbol: served, timeframe: '1m', fromMs: OPEN - 60 * MIN, toMs: OPEN + 200 * MIN });
    // validation and quality use the replay's data clock (10 data minutes in), not the wall clock
    expect(r).toMatchObject({ fetched: 10, stored: 10, rejected: 0, cached: true });
    expect(r.quality).toMatchObject({ level: 'OK', expected: 10, received: 10 });
  });

  test('through the Alpaca adapter (fake server, several pages); the keys appear in no log line', async () => {
    const keyId = 'PKCANARY00000000077';
    const secretKey = 'canary-secret-refresh-Vb71';
    const fake = await startFakeAlpaca({ keyId, secretKey });
    try {
      const sym = uniqueSymbol('A');
      fake.setBars(sym, bars(35, OPEN, MIN));
      const alpaca = new AlpacaMarketData({ baseUrl: fake.url, credentials: () => ({ keyId, secretKey }), pageSize: 10 });
      const acts = activities({ providers: { alpaca } });
      const { env: e, logs } = env();
      const r = await refresh(e, acts, { provider: 'alpaca', symbol: sym, timeframe: '1m', fromMs: OPEN, toMs: OPEN + 59 * MIN });
      expect(r).toMatchObject({ fetched: 35, stored: 35, rejected: 0, cached: true });
      expect(r.quality.level).toBe('ERROR'); // 25 of 60 minutes missing
      expect(fake.requests).toHaveLength(4);
      fake.faults.push('429');
      const again = env();
      const err = await failure(refresh(again.env, acts, { provider: 'alpaca', symbol: sym, timeframe: '1m', fromMs: OPEN, toMs: OPEN + 59 * MIN }));
      expect(err.type).toBe('MarketDataUnavailable');
      const text = JSON.stringify([...logs, ...again.logs]) + err.message + String(err.stack);
      expect(text).not.toContain(secretKey);
      expect(text).not.toContain(keyId);
    } finally {
      await fake.close();
    }
  });

  test('provider failures become typed ApplicationFailures', async () => {
    const provider = new ListProvider('list', []);
    const acts = activities({ providers: { list: provider } });
    const input = { provider: 'list', symbol: 'AAPL', timeframe: '1m' as const, fromMs: OPEN, toMs: OPEN + MIN };

    provider.failWith = new MarketDataUnavailableError('alpaca: rate limited (429)', { status: 429, retryAfterMs: 3_000 });
    const unavailable = await failure(refresh(env().env, acts, input));
    expect(unavailable).toMatchObject({ type: 'MarketDataUnavailable', nonRetryable: false, nextRetryDelay: 3_000 });

    provider.failWith = new MarketDataRequestError('alpaca: HTTP 422 invalid symbol', 422);
    const rejected = await failure(refresh(env().env, acts, input));
    expect(rejected).toMatchObject({ type: 'MarketDataRequestRejected', nonRetryable: true });
    expect(rejected.message).toMatch(/invalid symbol/);

    const unknown = await failure(refresh(env().env, acts, { ...input, provider: 'bloomberg' }));
    expect(unknown).toMatchObject({ type: 'UnknownMarketDataProvider', nonRetryable: true });

    const invalid = await failure(refresh(env().env, acts, { ...input, fromMs: OPEN + MIN, toMs: OPEN }));
    expect(invalid).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  });
});

describe('loadRecentBars', () => {
  const series = bars(120, OPEN, MIN); // 09:30..11:29
  const lastOpen = OPEN + 119 * MIN;
  let sym: string;

  beforeAll(async () => {
    sym = uniqueSymbol('L');
    const acts = activities({ providers: { list: new ListProvider('list', series) }, now: () => OPEN + 6 * 60 * MIN });
    await refresh(env().env, acts, { provider: 'list', symbol: sym, timeframe: '1m', fromMs: OPEN, toMs: OPEN + 6 * 60 * MIN });
  });

  test('reads Redis when it holds enough fresh bars', async () => {
    const acts = activities({ providers: {} });
    const r = await load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 50, asOfMs: lastOpen + MIN, maxStaleBars: 2 });
    expect(r).toEqual({ bars: series.slice(70), source: 'redis', lastCloseMs: lastOpen + MIN, stale: false });
    // asOfMs bounds the bars by open time
    const earlier = await load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 10, asOfMs: OPEN + 30 * MIN, maxStaleBars: 2 });
    expect(earlier).toMatchObject({ bars: series.slice(21, 31), source: 'redis', lastCloseMs: OPEN + 31 * MIN, stale: false });
  });

  test('Redis unreachable (fail-fast client, closed port): falls back to Postgres within 2 s', async () => {
    const acts = activities({ providers: {}, redis: await redisDown() });
    const { env: e, logs } = env();
    const t0 = Date.now();
    const r = await load(e, acts, { symbol: sym, timeframe: '1m', limit: 50, asOfMs: lastOpen + MIN, maxStaleBars: 2 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(r).toEqual({ bars: series.slice(70), source: 'postgres', lastCloseMs: lastOpen + MIN, stale: false });
    expect(logs.some((l) => l.level === 'WARN' && /redis unavailable/.test(l.message))).toBe(true);
  });

  test('Redis holding too few bars: Postgres', async () => {
    await new BarCache(redis, { prefix: PREFIX }).replaceBars(sym, '1m', series.slice(110));
    try {
      const acts = activities({ providers: {} });
      const r = await load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 50, asOfMs: lastOpen, maxStaleBars: 2 });
      expect(r).toMatchObject({ source: 'postgres', stale: false });
      expect(r.bars).toEqual(series.slice(70));
    } finally {
      await new BarCache(redis, { prefix: PREFIX }).replaceBars(sym, '1m', series);
    }
  });

  test('stale: the last close is more than maxStaleBars bars before asOfMs', async () => {
    const acts = activities({ providers: {} });
    const lastClose = lastOpen + MIN;
    const loadAt = (asOfMs: number, extra: { calendar?: 'XNYS' } = {}) =>
      load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 20, asOfMs, maxStaleBars: 2, ...extra });
    expect(await loadAt(lastClose + 2 * MIN)).toMatchObject({ stale: false, source: 'redis' });
    const stale = await loadAt(lastClose + 2 * MIN + 1);
    expect(stale.stale).toBe(true);
    expect(stale.source).toBe('postgres'); // stale Redis bars make it consult Postgres, which has nothing newer
    expect(stale.lastCloseMs).toBe(lastClose);
    // on the exchange calendar, bars closing while the market is shut do not count
    const friClose = Date.UTC(2024, 0, 5, 21, 0);
    const daily = uniqueSymbol('L');
    await storeBars(pool, daily, '1m', barsToColumns(bars(3, friClose - 3 * MIN, MIN)));
    const monday = Date.UTC(2024, 0, 8, 14, 31); // one bar after Monday's open
    const onCalendar = await load(env().env, acts, { symbol: daily, timeframe: '1m', limit: 3, asOfMs: monday, maxStaleBars: 2, calendar: 'XNYS' });
    expect(onCalendar).toMatchObject({ source: 'postgres', lastCloseMs: friClose, stale: false });
    const byClock = await load(env().env, acts, { symbol: daily, timeframe: '1m', limit: 3, asOfMs: monday, maxStaleBars: 2 });
    expect(byClock.stale).toBe(true);
  });

  test('no bars at all: empty, stale, lastCloseMs null', async () => {
    const acts = activities({ providers: {} });
    expect(await load(env().env, acts, { symbol: uniqueSymbol('NONE'), timeframe: '5m', limit: 10, asOfMs: OPEN, maxStaleBars: 2 })).toEqual({
      bars: [],
      source: 'postgres',
      lastCloseMs: null,
      stale: true,
    });
  });

  test('Redis and Postgres both down: ApplicationFailure MarketDataUnavailable (retryable), quickly', async () => {
    const deadPg = new Pool({ connectionString: `postgres://nobody@127.0.0.1:${await closedPort()}/none`, connectionTimeoutMillis: 500 });
    try {
      const acts = activities({ providers: {}, redis: await redisDown(), db: deadPg });
      const t0 = Date.now();
      const err = await failure(load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 50, asOfMs: lastOpen, maxStaleBars: 2 }));
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(err).toMatchObject({ type: 'MarketDataUnavailable', nonRetryable: false });
      expect(err.message).toMatch(/redis: .*; postgres: /);
    } finally {
      await deadPg.end();
    }
  });

  test('payloads stay small: more than 500 bars is refused as invalid input', async () => {
    const acts = activities({ providers: {} });
    const err = await failure(load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 5_000, asOfMs: lastOpen, maxStaleBars: 2 }));
    expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  });
});
