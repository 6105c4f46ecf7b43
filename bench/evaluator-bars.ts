/**
 * The batch evaluator's bar reads (`npm run bench -- evaluator-bars [--symbols=500] [--rounds=5]`): at each bar close,
 * every symbol's window of WINDOW_BARS bars. Measured both ways in this process against a private Redis: whole reads
 * (loadRecentBars per symbol, 3 at a time, as evaluateBarClose did first), the windows held from close to close
 * (activities/evaluator-bar-windows.ts: only the bars after each held window, and 3 before it) read as evaluateBarClose
 * reads them now (readMany: every held window's tail in one Redis round trip), and the same held windows read one
 * symbol at a time, 3 at a time (`each`, as it read them before readMany; its own copy of the windows). Before each close a
 * new bar is appended to every series as the feed's refresh does. Per round: wall time of the phase, CPU of this
 * process (process.cpuUsage) and of Redis (INFO cpu); one warm-up close each way first (the held windows' first read
 * is whole), not counted; the two ways alternate which goes first. Every close's windows are compared (they must be
 * the same).
 */
import os from 'node:os';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Redis } from 'ioredis';
import { Pool } from 'pg';
import { boundedMap } from '../activities/bounded-map';
import { createEvaluatorBarWindows } from '../activities/evaluator-bar-windows';
import { createMarketDataActivities, type LoadRecentBarsInput, type LoadRecentBarsResult } from '../activities/market-data';
import { WINDOW_BARS } from '../domain/deployment/batch';
import { BarCache } from '../marketdata/cache';
import type { Bar } from '../marketdata/port';
import type { Config } from '../platform/config';
import { createRedis, redisReady } from '../platform/deps';
import { createLogger } from '../platform/logger';
import { benchStack, intArg } from './stack';

interface Round {
  wallMs: number;
  benchCpuMs: number;
  redisCpuMs: number;
}

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 2);
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Redis' own CPU so far (INFO cpu: user + sys, of the server and its threads), in ms. */
async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
}

export async function benchEvaluatorBars(): Promise<Record<string, unknown>> {
  const n = intArg('symbols', 500, 5000);
  const rounds = intArg('rounds', 5, 100);
  const t0 = Date.now();
  const log = (m: string) => console.log(`[evaluator-bars +${Math.round((Date.now() - t0) / 1000)}s] ${m}`);
  const loadBefore = os.loadavg();
  const stack = await benchStack({ temporal: false, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  // built as the IO worker builds its client; a second one for INFO, so the measured one carries only the reads
  const redis = createRedis({ REDIS_URL: stack.REDIS_URL } as Config, createLogger('silent'));
  const admin = createRedis({ REDIS_URL: stack.REDIS_URL } as Config, createLogger('silent'));
  try {
    await redisReady(redis);
    await redisReady(admin);
    const cache = new BarCache(redis);
    const { loadRecentBars } = createMarketDataActivities({ db: pool, redis });
    const windows = createEvaluatorBarWindows({ loadRecentBars, cache });
    const windowsEach = createEvaluatorBarWindows({ loadRecentBars, cache });
    const symbols = Array.from({ length: n }, (_, i) => `EB${i}`);
    // a random walk per symbol, WINDOW_BARS + 100 bars, warmed into the cache as a feed's first refresh does
    const series = new Map<string, Bar[]>();
    let close = 100;
    for (const symbol of symbols) {
      const s: Bar[] = [];
      for (let i = 0; i < WINDOW_BARS + 100; i++) s.push(bar(T0 + i * MIN, (close += Math.sin(i + symbol.length) / 7)));
      series.set(symbol, s);
    }
    await cache.appendMany('1m', symbols.map((symbol) => ({ symbol, prevTs: null, bars: series.get(symbol)! })));
    log(`${n} symbols, ${WINDOW_BARS + 100} bars each, cached`);

    let asOfMs = T0 + (WINDOW_BARS + 99) * MIN;
    const newClose = async () => {
      asOfMs += MIN;
      await cache.appendMany('1m', symbols.map((symbol) => {
        const s = series.get(symbol)!;
        const prev = s[s.length - 1]!;
        const b = bar(asOfMs, prev.close + 0.01);
        s.push(b);
        return { symbol, prevTs: prev.ts, bars: [b] };
      }));
    };
    const input = (symbol: string): LoadRecentBarsInput => ({ symbol, timeframe: '1m', limit: WINDOW_BARS, asOfMs, maxStaleBars: 2 });
    const readAll = (read: (i: LoadRecentBarsInput) => Promise<LoadRecentBarsResult>) =>
      new MockActivityEnvironment().run(async () => {
        const out = new Map<string, Bar[]>();
        await boundedMap(symbols, 3, async (symbol) => void out.set(symbol, (await read(input(symbol))).bars));
        return out;
      }) as Promise<Map<string, Bar[]>>;
    const whole = () => readAll(loadRecentBars);
    const each = () => readAll((i) => windowsEach.read(i));
    const held = () =>
      new MockActivityEnvironment().run(async () => {
        const reads = await windows.readMany(symbols.map(input), 3);
        return new Map(symbols.map((symbol, i) => [symbol, (reads[i] as LoadRecentBarsResult).bars]));
      }) as Promise<Map<string, Bar[]>>;
    const measure = async (fn: () => Promise<Map<string, Bar[]>>): Promise<{ round: Round; result: Map<string, Bar[]> }> => {
      const r0 = await redisCpuMs(admin);
      const [cpu0, w0] = [process.cpuUsage(), performance.now()];
      const result = await fn();
      const wallMs = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      return { round: { wallMs, benchCpuMs: (cpu.user + cpu.system) / 1000, redisCpuMs: (await redisCpuMs(admin)) - r0 }, result };
    };
    const same = (a: Map<string, Bar[]>, b: Map<string, Bar[]>) => symbols.every((s) => a.get(s)!.length === WINDOW_BARS && JSON.stringify(a.get(s)) === JSON.stringify(b.get(s)));

    await newClose();
    let allSame = same(await held(), await whole()) && same(await each(), await whole()); // warm-up: the held windows' first (whole) read
    const before: Round[] = [];
    const after: Round[] = [];
    const oneByOne: Round[] = [];
    const ways = [whole, held, each];
    for (let r = 0; r < rounds; r++) {
      await newClose();
      // the order rotates each close, so no way always goes first
      const measured = new Map<(typeof ways)[number], Awaited<ReturnType<typeof measure>>>();
      for (let k = 0; k < ways.length; k++) {
        const way = ways[(r + k) % ways.length]!;
        measured.set(way, await measure(way));
      }
      const [w, h, e] = ways.map((way) => measured.get(way)!);
      before.push(w!.round);
      after.push(h!.round);
      oneByOne.push(e!.round);
      allSame &&= same(w!.result, h!.result) && same(w!.result, e!.result) && w!.result.get(symbols[0]!)!.at(-1)!.ts === asOfMs;
      log(`round ${r + 1}/${rounds}: whole ${fmt(w!.round)}; held ${fmt(h!.round)}; held one at a time ${fmt(e!.round)}`);
    }
    const stats = windows.stats();
    const b = summary(before);
    const a = summary(after);
    const e = summary(oneByOne);
    const ratioOf = (x: Record<string, number>) => Object.fromEntries(Object.keys(x).map((k) => [k, a[k]! > 0 ? Math.round((x[k]! / a[k]!) * 10) / 10 : null]));
    const ratio = ratioOf(b);
    const ratioEach = ratioOf(e);
    console.log(
      `bar reads at ${n} symbols x ${WINDOW_BARS} bars, mean of ${rounds} closes: whole ${JSON.stringify(b)}; held ${JSON.stringify(a)}; whole/held ${JSON.stringify(ratio)}; ` +
        `held one at a time ${JSON.stringify(e)}; one at a time/held ${JSON.stringify(ratioEach)}; same windows: ${allSame}; ${JSON.stringify(stats)}`,
    );
    return {
      symbols: n, windowBars: WINDOW_BARS, rounds, whole: b, held: a, ratio, heldOneAtATime: e, ratioOneAtATime: ratioEach, sameWindows: allSame, windowStats: stats,
      // the held windows must be what whole reads return, and (after the warm-up) be read by tail only
      passed: allSame && stats.wholeReads === n && stats.tailReads === n * rounds && windowsEach.stats().tailReads === n * rounds,
      setup: {
        machine: { cpus: os.cpus().length, loadBefore: loadBefore.map((x) => +x.toFixed(2)), loadAfter: os.loadavg().map((x) => +x.toFixed(2)) },
        what: 'one process, a private redis-server; CPU of this process from process.cpuUsage(), of Redis from INFO cpu; reads 3 symbols at a time as evaluateBarClose does',
      },
      wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    redis.disconnect();
    admin.disconnect();
    await pool.end();
    await stack.stop();
  }
}

function bar(ts: number, close: number): Bar {
  const c = Math.round(close * 100) / 100;
  return { ts, open: c, high: c + 0.05, low: c - 0.05, close: c, volume: 1000 + (ts / MIN) % 97 };
}

/** Means over the rounds. */
function summary(rs: Round[]): Record<string, number> {
  const keys = ['wallMs', 'benchCpuMs', 'redisCpuMs'] as const;
  return Object.fromEntries(keys.map((k) => [k, round3(rs.reduce((s, r) => s + r[k], 0) / rs.length)]));
}

const fmt = (r: Round) => `${Math.round(r.wallMs)} ms, CPU this process ${Math.round(r.benchCpuMs)} ms, Redis ${Math.round(r.redisCpuMs)} ms`;
