/**
 * The batch evaluator's held windows (activities/evaluator-bar-windows.ts) against real Redis and Postgres: each
 * close's window is compared with what a whole loadRecentBars read returns at the same moment.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { createEvaluatorBarWindows, type EvaluatorBarWindowsDeps } from '../../activities/evaluator-bar-windows';
import { createMarketDataActivities, type LoadRecentBarsInput, type MarketDataActivities } from '../../activities/market-data';
import { BarCache, encodeBar } from '../../marketdata/cache';
import { barsToColumns, type Bar } from '../../marketdata/port';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { bars, closedPort, failFastRedis } from './helpers';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 2, 0, 0);
const PREFIX = 'test:md:evalwin';
const WINDOW = 300;
const SERIES = 400;

let pool: Pool;
let redis: Redis;
let cache: BarCache;
let acts: MarketDataActivities;
const downClients: Redis[] = [];

beforeAll(() => {
  pool = testPool();
  redis = new Redis(testStack().REDIS_URL);
  cache = new BarCache(redis, { prefix: PREFIX });
  acts = createMarketDataActivities({ db: pool, redis, cache: { prefix: PREFIX } });
});
afterAll(async () => {
  for (const c of downClients) c.disconnect();
  await redis.quit();
  await pool.end();
});

/** loadRecentBars needs an activity context (it logs through it). */
const inActivity = <T>(f: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(f);

/** A symbol with SERIES one-minute bars from T0 in Postgres and Redis (as the feed's warm-up leaves them). */
async function seeded(prefix = 'EW'): Promise<{ symbol: string; series: Bar[] }> {
  const symbol = uniqueSymbol(prefix);
  const series = bars(SERIES, T0, MIN);
  await storeBars(pool, symbol, '1m', barsToColumns(series));
  await cache.replaceBars(symbol, '1m', series);
  return { symbol, series };
}

/** One more bar, stored and appended to the cache as a feed's refresh does. */
async function nextBar(symbol: string, series: Bar[]): Promise<Bar> {
  const prev = series[series.length - 1]!;
  const bar = { ...prev, ts: prev.ts + MIN, close: prev.close + 0.25 };
  series.push(bar);
  await storeBars(pool, symbol, '1m', barsToColumns([bar]));
  await cache.appendMany('1m', [{ symbol, prevTs: prev.ts, bars: [bar] }]);
  return bar;
}

const input = (symbol: string, asOfMs: number): LoadRecentBarsInput => ({ symbol, timeframe: '1m', limit: WINDOW, asOfMs, maxStaleBars: 2 });

/** The windows, with the bars each tail read returned recorded (the real cache behind it). */
function windows(opts: Partial<EvaluatorBarWindowsDeps> = {}) {
  const tailSizes: number[] = [];
  const tailCalls: number[] = [];
  const w = createEvaluatorBarWindows({
    loadRecentBars: acts.loadRecentBars,
    cache: {
      getRevision: (s, tf) => cache.getRevision(s, tf),
      getBarsTails: async (reads) => {
        const t = await cache.getBarsTails(reads);
        tailSizes.push(...t.map((one) => one.bars.length));
        tailCalls.push(reads.length);
        return t;
      },
    },
    ...opts,
  });
  return { w, tailSizes, tailCalls };
}

test('a later close reads only the new bar and a few before it, and gets exactly the whole read; a retry of the close gets the same', async () => {
  const { symbol, series } = await seeded();
  const { w, tailSizes } = windows();
  let asOf = series[series.length - 1]!.ts;
  const first = await inActivity(() => w.read(input(symbol, asOf)));
  expect(first.bars).toHaveLength(WINDOW);
  expect(w.stats()).toEqual({ wholeReads: 1, tailReads: 0, held: 1 });

  for (let close = 0; close < 3; close++) {
    const bar = await nextBar(symbol, series);
    asOf = bar.ts;
    const held = await inActivity(() => w.read(input(symbol, asOf)));
    const fresh = await inActivity(() => acts.loadRecentBars(input(symbol, asOf)));
    expect(held).toEqual(fresh);
    expect(held.bars[held.bars.length - 1]).toEqual(bar);
    expect(held.bars.map((b) => b.ts)).toEqual(series.slice(-WINDOW).map((b) => b.ts));
  }
  const retry = await inActivity(() => w.read(input(symbol, asOf)));
  expect(retry).toEqual(await inActivity(() => acts.loadRecentBars(input(symbol, asOf))));
  expect(w.stats()).toEqual({ wholeReads: 1, tailReads: 4, held: 1 });
  // the overlap (3 held bars) and the new one; the retry: the overlap alone
  expect(tailSizes).toEqual([4, 4, 4, 3]);
});

test('a revised older bar inside the window is read whole again, with its new value', async () => {
  const { symbol, series } = await seeded();
  const { w } = windows();
  const asOf = series[series.length - 1]!.ts;
  await inActivity(() => w.read(input(symbol, asOf)));
  // the 100th bar of the window, far before the overlap, revised through the cache's writer
  const revised = { ...series[SERIES - WINDOW + 99]!, close: 123.5 };
  await cache.putBars(symbol, '1m', [revised]);
  const after = await inActivity(() => w.read(input(symbol, asOf)));
  expect(after.bars[99]).toEqual(revised);
  expect(after).toEqual(await inActivity(() => acts.loadRecentBars(input(symbol, asOf))));
  expect(w.stats()).toMatchObject({ wholeReads: 2, tailReads: 1 });
});

test('a held bar changed behind the cache writer (no new revision) is noticed by the overlap digest, a removed one by the count', async () => {
  const { symbol, series } = await seeded();
  const { w } = windows();
  const asOf = series[series.length - 1]!.ts;
  await inActivity(() => w.read(input(symbol, asOf)));
  const key = cache.key(symbol, '1m');
  const last = { ...series[series.length - 1]!, high: series[series.length - 1]!.high + 1 };
  await redis.multi().zremrangebyscore(key, last.ts, last.ts).zadd(key, last.ts, encodeBar(last)).exec();
  const changed = await inActivity(() => w.read(input(symbol, asOf)));
  expect(changed.bars[WINDOW - 1]).toEqual(last);
  expect(w.stats()).toMatchObject({ wholeReads: 2, tailReads: 1 });

  // one bar in the window's middle gone from Redis: read whole again (which now reaches one bar further back)
  const gone = series[SERIES - 150]!.ts;
  await redis.zremrangebyscore(key, gone, gone);
  const gap = await inActivity(() => w.read(input(symbol, asOf)));
  expect(w.stats()).toMatchObject({ wholeReads: 3, tailReads: 2 });
  expect(gap.bars.map((b) => b.ts)).not.toContain(gone);
  expect(gap).toEqual(await inActivity(() => acts.loadRecentBars(input(symbol, asOf))));
});

test('Redis down: every read is the whole read, from Postgres, and nothing is held; a held window is not extended while Redis is down', async () => {
  const { symbol, series } = await seeded();
  const down = failFastRedis(`redis://127.0.0.1:${await closedPort()}`);
  downClients.push(down);
  const downCache = new BarCache(down, { prefix: PREFIX });
  const downActs = createMarketDataActivities({ db: pool, redis: down, cache: { prefix: PREFIX } });
  let redisDown = false;
  const w = createEvaluatorBarWindows({
    loadRecentBars: (i) => (redisDown ? downActs : acts).loadRecentBars(i),
    cache: { getRevision: (s, tf) => (redisDown ? downCache : cache).getRevision(s, tf), getBarsTails: (reads) => (redisDown ? downCache : cache).getBarsTails(reads) },
  });
  let asOf = series[series.length - 1]!.ts;
  expect((await inActivity(() => w.read(input(symbol, asOf)))).source).toBe('redis');
  expect(w.stats().held).toBe(1);

  redisDown = true;
  // a bar Postgres has and the cache does not (the refresh could not write it)
  const bar = { ...series[series.length - 1]!, ts: asOf + MIN, close: 77 };
  await storeBars(pool, symbol, '1m', barsToColumns([bar]));
  asOf = bar.ts;
  for (let close = 0; close < 2; close++) {
    const r = await inActivity(() => w.read(input(symbol, asOf)));
    expect(r).toEqual(await inActivity(() => downActs.loadRecentBars(input(symbol, asOf))));
    expect(r.source).toBe('postgres');
    expect(r.bars[r.bars.length - 1]).toEqual(bar);
  }
  expect(w.stats()).toEqual({ wholeReads: 3, tailReads: 1, held: 0 });
});

test('at most maxWindows are held, the least recently read dropped first; a window not read for idleMs is dropped', async () => {
  const a = await seeded('EA');
  const b = await seeded('EB');
  const c = await seeded('EC');
  let clock = 1_000_000;
  const { w } = windows({ maxWindows: 2, idleMs: 10 * MIN, now: () => clock });
  const asOf = a.series[SERIES - 1]!.ts;
  for (const s of [a, b, c]) await inActivity(() => w.read(input(s.symbol, asOf)));
  expect(w.stats()).toEqual({ wholeReads: 3, tailReads: 0, held: 2 });
  await inActivity(() => w.read(input(c.symbol, asOf))); // held: a tail read
  await inActivity(() => w.read(input(a.symbol, asOf))); // dropped: whole (and b, now the least recent, goes)
  expect(w.stats()).toEqual({ wholeReads: 4, tailReads: 1, held: 2 });
  await inActivity(() => w.read(input(c.symbol, asOf)));
  expect(w.stats()).toEqual({ wholeReads: 4, tailReads: 2, held: 2 });

  clock += 11 * MIN;
  // only c is read again: a, idle for longer than idleMs, is dropped at once
  await inActivity(() => w.read(input(c.symbol, asOf)));
  expect(w.stats()).toEqual({ wholeReads: 4, tailReads: 3, held: 1 });
});

test('readMany: every held window\'s tail in one Redis round trip, whole reads for the rest, in input order; a symbol with no bars gets its own error', async () => {
  const held = await Promise.all(Array.from({ length: 6 }, (_, i) => seeded(`EM${i}`)));
  const fresh = await seeded('EN');
  const { w, tailCalls } = windows();
  let asOf = held[0]!.series[SERIES - 1]!.ts;
  // first close: all whole, 3 at a time
  const first = await inActivity(() => w.readMany(held.map((s) => input(s.symbol, asOf)), 3));
  expect(first.every((r) => !(r instanceof Error) && r.bars.length === WINDOW)).toBe(true);
  expect(w.stats()).toEqual({ wholeReads: 6, tailReads: 0, held: 6 });

  for (const s of held) await nextBar(s.symbol, s.series);
  asOf += MIN;
  // fresh has no bar at asOf + its own history: it is read whole; a symbol nobody stored fails alone
  const nobody = uniqueSymbol('EZ');
  const inputs = [...held.map((s) => input(s.symbol, asOf)), input(fresh.symbol, asOf), input(nobody, asOf)];
  const second = await inActivity(() => w.readMany(inputs, 3));
  expect(tailCalls).toEqual([6]); // the six held windows in one call
  expect(w.stats()).toMatchObject({ wholeReads: 8, tailReads: 6 });
  for (const [i, s] of held.entries()) {
    expect(second[i]).toEqual(await inActivity(() => acts.loadRecentBars(input(s.symbol, asOf))));
    expect((second[i] as { bars: Bar[] }).bars.at(-1)).toEqual(s.series.at(-1));
  }
  expect(second[6]).toEqual(await inActivity(() => acts.loadRecentBars(input(fresh.symbol, asOf))));
  const missing = second[7];
  const expected = await inActivity(() => acts.loadRecentBars(input(nobody, asOf))).then(
    (r) => r,
    (err: unknown) => err as Error,
  );
  // whatever a whole read of an unknown symbol gives (an error or an empty window), readMany gives the same
  if (expected instanceof Error) expect((missing as Error).message).toBe(expected.message);
  else expect(missing).toEqual(expected);
});
