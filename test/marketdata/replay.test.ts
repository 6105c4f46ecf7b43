/**
 * Replay: the clock's wall <-> data arithmetic, the "only closed bars" rule at speed 60 over bars stored in
 * Postgres, symbol mapping with a time shift, and that ReplayClock bundles for the workflow sandbox.
 */
import path from 'node:path';
import type { Pool } from 'pg';
import { bundleWorkflowCode } from '@temporalio/worker';
import { weekday } from '../../domain/time/dates';
import { barsToColumns, MarketDataRequestError, MarketDataUnavailableError } from '../../marketdata/port';
import { alignedShiftMs, ReplayClock, ReplayProvider, WEEK_MS } from '../../marketdata/replay';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { bars } from './helpers';

const MIN = 60_000;
const DAY = 86_400_000;
/** a Tuesday session open, 09:30 New York */
const T0 = Date.UTC(2006, 0, 3, 14, 30);
/** the replay starts at this wall time */
const W0 = Date.UTC(2024, 5, 4, 13, 30, 0);

describe('ReplayClock', () => {
  const clock = new ReplayClock({ dataStartMs: T0, wallStartMs: W0, speed: 60 });

  test('maps wall time to data time linearly, and back', () => {
    expect(clock.dataNow(W0)).toBe(T0);
    expect(clock.dataNow(W0 + 1_000)).toBe(T0 + MIN); // one wall second = one data minute
    expect(clock.dataNow(W0 + 90_000)).toBe(T0 + 90 * MIN);
    expect(clock.dataNow(W0 - 1_000)).toBe(T0 - MIN); // before the start: history
    expect(clock.wallFor(T0 + 390 * MIN)).toBe(W0 + 390_000); // a whole session in 6.5 minutes
    for (const d of [T0, T0 + 1, T0 + 59_999, T0 + 7 * MIN + 13]) expect(clock.dataNow(clock.wallFor(d))).toBeGreaterThanOrEqual(d);
  });

  test('whole milliseconds at odd speeds; wallFor rounds up so the data time has been reached', () => {
    const slow = new ReplayClock({ dataStartMs: T0, wallStartMs: W0, speed: 0.3 });
    expect(Number.isInteger(slow.dataNow(W0 + 7))).toBe(true);
    for (const d of [T0 + 1, T0 + 2, T0 + 1_000, T0 + MIN]) {
      const w = slow.wallFor(d);
      expect(slow.dataNow(w)).toBeGreaterThanOrEqual(d);
      expect(slow.dataNow(w - 1)).toBeLessThan(d);
    }
  });

  test('realtime() is the identity; toJSON() is the plain config; bad configs are refused', () => {
    const rt = ReplayClock.realtime();
    expect(rt.dataNow(W0)).toBe(W0);
    expect(rt.wallFor(W0)).toBe(W0);
    expect(JSON.parse(JSON.stringify(clock))).toEqual({ dataStartMs: T0, wallStartMs: W0, speed: 60 });
    expect(() => new ReplayClock({ dataStartMs: T0, wallStartMs: W0, speed: 0 })).toThrow(/speed/);
    expect(() => new ReplayClock({ dataStartMs: Number.NaN, wallStartMs: W0, speed: 1 })).toThrow(/dataStartMs/);
  });

  test('alignedShiftMs keeps weekday and time of day and never lands in the future', () => {
    const shift = alignedShiftMs(T0, W0);
    expect(shift % WEEK_MS).toBe(0);
    expect(T0 + shift).toBeLessThanOrEqual(W0);
    expect(T0 + shift).toBeGreaterThan(W0 - WEEK_MS);
    expect(weekday(Math.floor((T0 + shift) / DAY))).toBe(weekday(Math.floor(T0 / DAY)));
    expect((T0 + shift) % DAY).toBe(T0 % DAY);
    expect(alignedShiftMs(T0, T0 + 3 * DAY, DAY)).toBe(3 * DAY);
  });

  test('bundles for the workflow sandbox (no Node built-ins or I/O clients)', async () => {
    const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'fixtures', 'replay-clock-workflow.ts'), logger: quiet });
    expect(code).toMatch(/replayClockProbe/);
    expect(code).not.toMatch(/ioredis|pg-copy-streams|node:net/);
  }, 60_000);
});

describe('ReplayProvider over Postgres', () => {
  let pool: Pool;
  const source = uniqueSymbol('RPL');
  const stored = bars(120, T0, MIN); // 2006-01-03 09:30 .. 11:29 New York

  beforeAll(async () => {
    pool = testPool();
    await storeBars(pool, source, '1m', barsToColumns(stored));
  });
  afterAll(async () => {
    await pool.end();
  });

  test('at speed 60 a 1-minute bar closes every wall second: only closed bars are served', async () => {
    let wall = W0;
    const p = new ReplayProvider({ db: pool, clock: { dataStartMs: T0, wallStartMs: W0, speed: 60 }, now: () => wall });
    const q = { symbol: source, timeframe: '1m' as const, fromMs: T0 - DAY, toMs: T0 + DAY };

    expect(await p.fetchBars(q)).toEqual([]); // at the start nothing has closed yet
    wall = W0 + 999;
    expect(await p.fetchBars(q)).toEqual([]); // 59.94 data seconds: the first bar is still open
    wall = W0 + 1_000;
    expect(await p.fetchBars(q)).toEqual(stored.slice(0, 1)); // its close is exactly now
    wall = W0 + 10_500;
    expect((await p.fetchBars(q)).map((b) => (b.ts - T0) / MIN)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(p.dataNow()).toBe(T0 + 630_000);
    wall = W0 + 600_000; // long after the data ran out
    expect(await p.fetchBars(q)).toEqual(stored);
  });

  test('history before dataStartMs is served at once (warm-up); limit and bounds apply in data time', async () => {
    const wall = W0;
    const p = new ReplayProvider({ db: pool, clock: { dataStartMs: T0 + 60 * MIN, wallStartMs: W0, speed: 60 }, now: () => wall });
    const all = await p.fetchBars({ symbol: source, timeframe: '1m', fromMs: T0, toMs: T0 + DAY });
    expect(all).toEqual(stored.slice(0, 60));
    const page = await p.fetchBars({ symbol: source, timeframe: '1m', fromMs: T0 + 10 * MIN, toMs: T0 + DAY, limit: 5 });
    expect(page.map((b) => (b.ts - T0) / MIN)).toEqual([10, 11, 12, 13, 14]);
    expect(await p.fetchBars({ symbol: source, timeframe: '1m', fromMs: T0 + 20 * MIN, toMs: T0 + 22 * MIN })).toEqual(stored.slice(20, 23));
    expect(await p.fetchBars({ symbol: source, timeframe: '5m', fromMs: T0, toMs: T0 + DAY })).toEqual([]); // no such series
  });

  test('time shift: a 2006 series replayed "today" under a mapped symbol, lined up with the wall clock', async () => {
    const served = `${source}-R`;
    const shift = alignedShiftMs(T0, W0);
    // speed 1, data time = wall time: the replay runs in real time from W0 on
    let wall = T0 + shift + 30 * MIN + 5_000;
    const p = new ReplayProvider({ db: pool, clock: ReplayClock.realtime(), now: () => wall, symbols: { [served]: source }, shiftMs: shift });
    expect(p.sourceSymbol(served)).toBe(source);
    const got = await p.fetchBars({ symbol: served, timeframe: '1m', fromMs: T0 + shift, toMs: T0 + shift + DAY });
    expect(got).toHaveLength(30); // bars 0..29 have closed by 30 min 5 s into the shifted session
    expect(got.map((b) => b.ts)).toEqual(stored.slice(0, 30).map((b) => b.ts + shift));
    expect(got.map(({ open, high, low, close, volume }) => [open, high, low, close, volume])).toEqual(
      stored.slice(0, 30).map(({ open, high, low, close, volume }) => [open, high, low, close, volume]),
    );
    // the query's bounds are in data (shifted) time: source-time bounds find nothing
    expect(await p.fetchBars({ symbol: served, timeframe: '1m', fromMs: T0, toMs: T0 + DAY })).toEqual([]);
    wall += 60_000;
    expect(await p.fetchBars({ symbol: served, timeframe: '1m', fromMs: T0 + shift, toMs: T0 + shift + DAY })).toHaveLength(31);
  });

  test('a shifted replay refuses to serve a symbol from itself (shifted bars must not mix into the source series)', async () => {
    const p = new ReplayProvider({ db: pool, clock: ReplayClock.realtime(), shiftMs: WEEK_MS });
    await expect(p.fetchBars({ symbol: source, timeframe: '1m', fromMs: T0, toMs: T0 + DAY })).rejects.toBeInstanceOf(MarketDataRequestError);
  });

  test('a Postgres failure is "unavailable", not a crash', async () => {
    const broken = { query: async () => Promise.reject(new Error('connection terminated')) };
    const p = new ReplayProvider({ db: broken, clock: ReplayClock.realtime() });
    await expect(p.fetchBars({ symbol: source, timeframe: '1m', fromMs: T0, toMs: T0 + DAY })).rejects.toBeInstanceOf(MarketDataUnavailableError);
  });
});
