/**
 * loadRecentBars with real Postgres and Redis (MockActivityEnvironment is only the activity context):
 * Redis-then-Postgres reads with a fail-fast client on a closed port, stale detection, both stores down.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createMarketDataActivities, type LoadRecentBarsInput, type LoadRecentBarsResult, type MarketDataActivities, type MarketDataDeps } from '../../activities/market-data';
import { BarCache } from '../../marketdata/cache';
import { barsToColumns } from '../../marketdata/port';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { bars, closedPort, failFastRedis, memoryLogger } from './helpers';

const MIN = 60_000;
/** Tuesday 2024-01-02 09:30 New York */
const OPEN = Date.UTC(2024, 0, 2, 14, 30);
const PREFIX = 'test:md:act';

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

function activities(overrides: Partial<MarketDataDeps> = {}) {
  return createMarketDataActivities({ db: pool, redis, cache: { prefix: PREFIX }, ...overrides });
}

function env() {
  const log = memoryLogger();
  return { env: new MockActivityEnvironment({}, { logger: log.logger }), logs: log.entries };
}

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

describe('loadRecentBars', () => {
  const series = bars(120, OPEN, MIN); // 09:30..11:29
  const lastOpen = OPEN + 119 * MIN;
  let sym: string;

  beforeAll(async () => {
    sym = uniqueSymbol('L');
    await storeBars(pool, sym, '1m', barsToColumns(series));
    await new BarCache(redis, { prefix: PREFIX }).replaceBars(sym, '1m', series);
  });

  test('reads Redis when it holds enough fresh bars', async () => {
    const acts = activities();
    const r = await load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 50, asOfMs: lastOpen + MIN, maxStaleBars: 2 });
    expect(r).toEqual({ bars: series.slice(70), source: 'redis', lastCloseMs: lastOpen + MIN, stale: false });
    // asOfMs bounds the bars by open time
    const earlier = await load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 10, asOfMs: OPEN + 30 * MIN, maxStaleBars: 2 });
    expect(earlier).toMatchObject({ bars: series.slice(21, 31), source: 'redis', lastCloseMs: OPEN + 31 * MIN, stale: false });
  });

  test('Redis unreachable (fail-fast client, closed port): falls back to Postgres within 2 s', async () => {
    const acts = activities({ redis: await redisDown() });
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
      const acts = activities();
      const r = await load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 50, asOfMs: lastOpen, maxStaleBars: 2 });
      expect(r).toMatchObject({ source: 'postgres', stale: false });
      expect(r.bars).toEqual(series.slice(70));
    } finally {
      await new BarCache(redis, { prefix: PREFIX }).replaceBars(sym, '1m', series);
    }
  });

  test('stale: the last close is more than maxStaleBars bars before asOfMs', async () => {
    const acts = activities();
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
    const acts = activities();
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
      const acts = activities({ redis: await redisDown(), db: deadPg });
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
    const acts = activities();
    const err = await failure(load(env().env, acts, { symbol: sym, timeframe: '1m', limit: 5_000, asOfMs: lastOpen, maxStaleBars: 2 }));
    expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  });
});
