/** The Redis bar cache against the real test Redis: round trip, in-place corrections, cap, TTL, and bounded failures. */
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { BarCache, CacheUnavailableError, decodeBar, encodeBar } from '../../marketdata/cache';
import { testStack } from '../helpers/stack';
import { uniqueSymbol } from '../helpers/db';
import { bars, closedPort, failFastRedis } from './helpers';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 2, 14, 30);

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testStack().REDIS_URL, { lazyConnect: false });
});
afterAll(async () => {
  await redis.quit();
});

test('members encode a bar compactly and decode to the same numbers', () => {
  const b = { ts: T0, open: 101.25, high: 102.5, low: 100.0001, close: 101.9999999, volume: 12_345_678 };
  expect(encodeBar(b)).toBe(`${T0},101.25,102.5,100.0001,101.9999999,12345678`);
  expect(decodeBar(encodeBar(b))).toEqual(b);
  const odd = { ts: T0, open: 0.1 + 0.2, high: 1e21, low: 5e-7, close: 1 / 3, volume: 0 };
  expect(decodeBar(encodeBar(odd))).toEqual(odd);
});

test('round trip: the newest `limit` bars at or before asOfMs, ascending', async () => {
  const cache = new BarCache(redis, { prefix: 'test:md' });
  const sym = uniqueSymbol('C');
  const series = bars(20, T0, MIN);
  expect(await cache.putBars(sym, '1m', [...series].reverse())).toBe(20);
  expect(await cache.getRecentBars(sym, '1m', 5, T0 + 19 * MIN)).toEqual(series.slice(15));
  expect(await cache.getRecentBars(sym, '1m', 5, T0 + 9 * MIN + 30_000)).toEqual(series.slice(5, 10));
  expect(await cache.getRecentBars(sym, '1m', 50, T0 + 2 * MIN)).toEqual(series.slice(0, 3));
  expect(await cache.getRecentBars(sym, '1m', 5, T0 - 1)).toEqual([]);
  expect(await cache.getRecentBars(sym, '5m', 5, T0 + 19 * MIN)).toEqual([]); // other timeframe, other key
  expect(await cache.span(sym, '1m')).toEqual({ firstTs: T0, lastTs: T0 + 19 * MIN, count: 20 });
  expect(await cache.span(sym, '1h')).toBeNull();
});

test('a bar written again with new values replaces the old one (one member per ts)', async () => {
  const cache = new BarCache(redis, { prefix: 'test:md' });
  const sym = uniqueSymbol('C');
  const series = bars(5, T0, MIN);
  await cache.putBars(sym, '1m', series);
  const corrected = { ...series[2], close: series[2].close + 0.01, high: Math.max(series[2].high, series[2].close + 0.01) };
  await cache.putBars(sym, '1m', [corrected, series[3]]);
  expect(await redis.zcard(cache.key(sym, '1m'))).toBe(5);
  expect((await cache.getRecentBars(sym, '1m', 5, T0 + 10 * MIN))[2]).toEqual(corrected);
});

test('capped to the newest maxBars, with a TTL refreshed on every write', async () => {
  const cache = new BarCache(redis, { prefix: 'test:md', maxBars: 50, ttlMs: 60_000 });
  const sym = uniqueSymbol('C');
  const series = bars(80, T0, MIN);
  await cache.putBars(sym, '1m', series.slice(0, 45));
  await cache.putBars(sym, '1m', series.slice(45));
  expect(await cache.span(sym, '1m')).toEqual({ firstTs: series[30].ts, lastTs: series[79].ts, count: 50 });
  const pttl = await redis.pttl(cache.key(sym, '1m'));
  expect(pttl).toBeGreaterThan(50_000);
  expect(pttl).toBeLessThanOrEqual(60_000);
  // a single write bigger than the cap sends only its newest maxBars
  const sym2 = uniqueSymbol('C');
  expect(await cache.putBars(sym2, '1m', series)).toBe(50);
  expect((await cache.getRecentBars(sym2, '1m', 100, Number.MAX_SAFE_INTEGER)).map((b) => b.ts)).toEqual(series.slice(30).map((b) => b.ts));
});

test('replaceBars swaps the whole series atomically', async () => {
  const cache = new BarCache(redis, { prefix: 'test:md' });
  const sym = uniqueSymbol('C');
  await cache.putBars(sym, '1m', bars(10, T0, MIN));
  const fresh = bars(3, T0 + 100 * MIN, MIN, 99);
  await cache.replaceBars(sym, '1m', fresh);
  expect(await cache.getRecentBars(sym, '1m', 100, Number.MAX_SAFE_INTEGER)).toEqual(fresh);
  await cache.replaceBars(sym, '1m', []);
  expect(await cache.span(sym, '1m')).toBeNull();
});

test('a warm-up of many series goes in round trips of at most 20,000 bars; a series with a hole in a later one is dropped', async () => {
  const cache = new BarCache(redis, { prefix: 'test:md' });
  const syms = Array.from({ length: 60 }, () => uniqueSymbol('W'));
  const holed = syms[55]!; // in the second round trip: its cache ends at another bar than Postgres's newest
  await cache.putBars(holed, '1m', bars(3, T0 - 10 * MIN, MIN));
  const series = bars(500, T0, MIN);
  const pipelines = jest.spyOn(redis, 'pipeline');
  try {
    const dropped = await cache.appendMany('1m', syms.map((symbol) => ({ symbol, prevTs: symbol === holed ? T0 - MIN : null, bars: series })));
    expect(pipelines).toHaveBeenCalledTimes(2); // 30,000 bars: 40 series, then 20
    expect(dropped).toEqual([holed]);
  } finally {
    pipelines.mockRestore();
  }
  for (const s of syms.filter((x) => x !== holed)) expect(await cache.span(s, '1m')).toEqual({ firstTs: T0, lastTs: T0 + 499 * MIN, count: 500 });
  expect(await cache.span(holed, '1m')).toBeNull(); // readers use Postgres until the refresh re-seeds it
});

test('the revision token changes at every write that may change a cached bar, not at a plain append; a tail read returns it with the span count and the bars', async () => {
  const cache = new BarCache(redis, { prefix: 'test:md' });
  const sym = uniqueSymbol('R');
  const series = bars(12, T0, MIN);
  expect(await cache.getRevision(sym, '1m')).toBeNull();
  await cache.appendMany('1m', [{ symbol: sym, prevTs: null, bars: series.slice(0, 10) }]);
  const seeded = await cache.getRevision(sym, '1m');
  expect(seeded).not.toBeNull();
  await cache.appendMany('1m', [{ symbol: sym, prevTs: series[9]!.ts, bars: [series[10]!] }]); // a plain append
  expect(await cache.getRevision(sym, '1m')).toBe(seeded);
  expect(await redis.pttl(`test:md:${sym}:1m:rev`)).toBeGreaterThan(0); // expires with its series
  expect(await cache.getBarsTail(sym, '1m', { windowFromTs: series[2]!.ts, overlapFromTs: series[8]!.ts, asOfMs: series[10]!.ts, limit: 10 })).toEqual({ revision: seeded, windowCount: 9, bars: series.slice(8, 11) });

  const revisions = new Set([seeded]);
  const changed = async () => {
    const r = await cache.getRevision(sym, '1m');
    expect(revisions.has(r)).toBe(false);
    revisions.add(r);
  };
  await cache.appendMany('1m', [{ symbol: sym, prevTs: series[10]!.ts, bars: [{ ...series[10]!, close: 1 }, series[11]!] }]); // re-sends a cached bar
  await changed();
  await cache.putBars(sym, '1m', [{ ...series[3]!, close: 2 }]);
  await changed();
  await cache.replaceBars(sym, '1m', series);
  await changed();
  expect(await cache.appendMany('1m', [{ symbol: sym, prevTs: series[5]!.ts, bars: [series[11]!] }])).toEqual([sym]); // a hole: dropped
  await changed();
  await cache.clear(sym, '1m');
  expect(await cache.getRevision(sym, '1m')).toBeNull();
});

describe('Redis unavailable', () => {
  test('a fail-fast client (platform/deps.ts createRedis) on a closed port fails every call at once', async () => {
    const down = failFastRedis(`redis://127.0.0.1:${await closedPort()}`);
    try {
      const cache = new BarCache(down, { prefix: 'test:md' });
      const t0 = Date.now();
      await expect(cache.getRecentBars('AAPL', '1m', 10, T0)).rejects.toBeInstanceOf(CacheUnavailableError);
      await expect(cache.putBars('AAPL', '1m', bars(3, T0, MIN))).rejects.toBeInstanceOf(CacheUnavailableError);
      await expect(cache.span('AAPL', '1m')).rejects.toBeInstanceOf(CacheUnavailableError);
      expect(Date.now() - t0).toBeLessThan(1_000);
    } finally {
      down.disconnect();
    }
  });

  test('a Redis that accepts connections but never answers is cut off by the cache timeout, even with a queueing client', async () => {
    const sockets: Socket[] = [];
    const blackHole: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const port = (blackHole.address() as { port: number }).port;
    // default ioredis options: offline queue on, no command timeout; the cache bounds the call itself
    const hung = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null, retryStrategy: () => null });
    hung.on('error', () => undefined);
    try {
      const cache = new BarCache(hung, { prefix: 'test:md', timeoutMs: 300 });
      const t0 = Date.now();
      const err = await cache.getRecentBars('AAPL', '1m', 10, T0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CacheUnavailableError);
      expect((err as Error).message).toMatch(/no answer within 300 ms/);
      expect(Date.now() - t0).toBeLessThan(1_000);
    } finally {
      hung.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise((r) => blackHole.close(r));
    }
  });
});
