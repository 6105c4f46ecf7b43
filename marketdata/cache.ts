/**
 * Redis cache of the most recent bars per (symbol, timeframe).
 *
 * Layout: one sorted set per series, key `{prefix}:{symbol}:{timeframe}`, score = bar open time (epoch ms),
 * member = "ts,open,high,low,close,volume" (numbers as JavaScript prints them, which round-trip exactly).
 * Writes replace a bar with the same ts, keep only the newest `maxBars` bars and refresh a TTL, all in one
 * MULTI, so readers never see a half-applied write. The cache is meant to hold a contiguous suffix of the
 * Postgres `bars` series (the refresh activity keeps it so); Postgres stays the source of truth.
 *
 * Every write that may change a bar already cached (not a plain append after the newest) also sets the series'
 * revision (`{key}:rev`) to a new token, so a reader holding a copy of the series can read only the new bars and
 * still notice a revised older one (activities/evaluator-bar-windows.ts).
 *
 * Every call is bounded: the client is expected to fail fast (platform/deps.ts createRedis: commandTimeout 1 s,
 * no offline queue), and each call here also gives up after `timeoutMs`. Any failure surfaces as
 * CacheUnavailableError, so callers can fall back to Postgres.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Timeframe } from '../domain/bars';
import type { Bar } from './port';
import { APPEND_SCRIPT } from './cache-append-script';

export class CacheUnavailableError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'CacheUnavailableError';
  }
}

export interface BarCacheOptions {
  /** bars kept per series (default 2,000) */
  maxBars?: number;
  /** the key expires this long after the last write (default 7 days: survives long weekends) */
  ttlMs?: number;
  /** key prefix (default 'md:bars') */
  prefix?: string;
  /** upper bound on any one call, on top of the client's own timeouts (default 1,500 ms) */
  timeoutMs?: number;
}

export const DEFAULT_CACHE_MAX_BARS = 2_000;

/** Where a held window's tail read starts and ends (getBarsTail). */
export interface TailAt {
  windowFromTs: number;
  overlapFromTs: number;
  asOfMs: number;
  limit: number;
}

export interface BarsTail {
  revision: string | null;
  windowCount: number;
  bars: Bar[];
}

/** Series per MULTI block of getBarsTails (3 reads each): Redis runs a block at once, so other clients wait at most one block. */
const TAILS_PER_MULTI = 250;

/** Bars a single appendMany round trip carries at most (one series' bars are never split). */
const APPEND_BATCH_BARS = 20_000;

/** "ts,open,high,low,close,volume" */
export function encodeBar(b: Bar): string {
  return `${b.ts},${b.open},${b.high},${b.low},${b.close},${b.volume}`;
}

export function decodeBar(member: string): Bar {
  const p = member.split(',');
  if (p.length !== 6) throw new CacheUnavailableError(`unreadable cached bar "${member.slice(0, 80)}"`);
  const [ts, open, high, low, close, volume] = p.map(Number);
  return { ts, open, high, low, close, volume };
}

export class BarCache {
  readonly maxBars: number;
  private readonly ttlMs: number;
  private readonly prefix: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly redis: Redis,
    opts: BarCacheOptions = {},
  ) {
    this.maxBars = opts.maxBars ?? DEFAULT_CACHE_MAX_BARS;
    this.ttlMs = opts.ttlMs ?? 7 * 86_400_000;
    this.prefix = opts.prefix ?? 'md:bars';
    this.timeoutMs = opts.timeoutMs ?? 1_500;
    if (!(Number.isInteger(this.maxBars) && this.maxBars > 0)) throw new RangeError(`maxBars must be a whole number > 0, got ${this.maxBars}`);
  }

  key(symbol: string, timeframe: Timeframe): string {
    return `${this.prefix}:${symbol}:${timeframe}`;
  }

  /** The series' revision token key (a symbol never holds ':', so it is no series' key). */
  private revKey(symbol: string, timeframe: Timeframe): string {
    return `${this.key(symbol, timeframe)}:rev`;
  }

  /**
   * Adds bars (any order), replacing cached bars with the same ts, then trims the series to the newest maxBars.
   * Only the newest maxBars of `bars` are sent (older ones would be trimmed at once). Returns the number sent.
   */
  async putBars(symbol: string, timeframe: Timeframe, bars: readonly Bar[]): Promise<number> {
    if (bars.length === 0) return 0;
    const recent = newest(bars, this.maxBars);
    const key = this.key(symbol, timeframe);
    await this.bounded('putBars', async () => {
      const m = this.redis.multi();
      const zaddArgs: Array<string | number> = [];
      for (const b of recent) {
        m.zremrangebyscore(key, b.ts, b.ts);
        zaddArgs.push(b.ts, encodeBar(b));
      }
      m.zadd(key, ...zaddArgs);
      this.trimAndExpire(m, key);
      m.set(this.revKey(symbol, timeframe), randomUUID(), 'PX', this.ttlMs);
      await execOrThrow(m);
    });
    return recent.length;
  }

  /** Replaces the whole series with `bars` (its newest maxBars): used to re-seed a cache with a hole from Postgres. */
  async replaceBars(symbol: string, timeframe: Timeframe, bars: readonly Bar[]): Promise<number> {
    const recent = newest(bars, this.maxBars);
    const key = this.key(symbol, timeframe);
    await this.bounded('replaceBars', async () => {
      const m = this.redis.multi();
      m.del(key);
      if (recent.length > 0) {
        const zaddArgs: Array<string | number> = [];
        for (const b of recent) zaddArgs.push(b.ts, encodeBar(b));
        m.zadd(key, ...zaddArgs);
        this.trimAndExpire(m, key);
      }
      m.set(this.revKey(symbol, timeframe), randomUUID(), 'PX', this.ttlMs);
      await execOrThrow(m);
    });
    return recent.length;
  }

  /**
   * Appends bars to many series in one round trip (a feed's refresh). Each entry names the newest bar Postgres held
   * before these (`prevTs`): a series whose newest cached bar is another one has a hole (Redis missed a write) and is
   * dropped instead, so readers use Postgres until the caller re-seeds it (replaceBars); `prevTs` null replaces the
   * series with `bars` (a new series' warm-up). Returns the symbols dropped.
   */
  async appendMany(timeframe: Timeframe, entries: ReadonlyArray<{ symbol: string; prevTs: number | null; bars: readonly Bar[] }>): Promise<string[]> {
    const live = entries.filter((e) => e.bars.length > 0);
    const dropped: string[] = [];
    // Round trips of at most APPEND_BATCH_BARS bars: a refresh's usual one bar per series is one round trip, while a
    // warm-up of hundreds of new series (150,000 bars for 500) stays inside the per-call bound instead of reading as
    // Redis down (`npm run bench -- marketdata`).
    const size = (e: (typeof live)[number]) => Math.min(e.bars.length, this.maxBars);
    for (let i = 0; i < live.length; ) {
      const batch: typeof live = [];
      for (let bars = 0; i < live.length && (batch.length === 0 || bars + size(live[i]!) <= APPEND_BATCH_BARS); i++) {
        bars += size(live[i]!);
        batch.push(live[i]!);
      }
      const replies = await this.bounded('appendMany', async () => {
        const p = this.redis.pipeline();
        for (const e of batch) {
          const args: Array<string | number> = [e.prevTs === null ? '' : e.prevTs, this.maxBars, this.ttlMs, randomUUID()];
          for (const b of newest(e.bars, this.maxBars)) args.push(b.ts, encodeBar(b));
          p.eval(APPEND_SCRIPT, 2, this.key(e.symbol, timeframe), this.revKey(e.symbol, timeframe), ...args);
        }
        return execOrThrow(p);
      });
      dropped.push(...batch.filter((_, k) => Number(replies[k]) === 0).map((e) => e.symbol));
    }
    return dropped;
  }

  /** The newest `limit` bars with ts <= asOfMs, ascending. */
  async getRecentBars(symbol: string, timeframe: Timeframe, limit: number, asOfMs: number): Promise<Bar[]> {
    if (limit <= 0) return [];
    const members = await this.bounded('getRecentBars', () => this.redis.zrevrangebyscore(this.key(symbol, timeframe), asOfMs, '-inf', 'LIMIT', 0, limit));
    const bars = members.map(decodeBar);
    bars.reverse();
    return bars;
  }

  /** The series' revision token (see the module comment): null when it was never rewritten, or it expired. */
  async getRevision(symbol: string, timeframe: Timeframe): Promise<string | null> {
    return this.bounded('getRevision', () => this.redis.get(this.revKey(symbol, timeframe)));
  }

  /**
   * A held window's tail, read at once: the revision token, how many bars lie in [windowFromTs, asOfMs], and the
   * bars in [overlapFromTs, asOfMs] ascending (at most `limit`).
   */
  async getBarsTail(symbol: string, timeframe: Timeframe, at: TailAt): Promise<BarsTail> {
    return (await this.getBarsTails([{ symbol, timeframe, at }]))[0]!;
  }

  /**
   * getBarsTail for many series in one round trip (a bar close's held windows): each series' three reads are one
   * MULTI block, TAILS_PER_MULTI series per block, all blocks pipelined. Results in `reads` order; any failure fails all.
   */
  async getBarsTails(reads: ReadonlyArray<{ symbol: string; timeframe: Timeframe; at: TailAt }>): Promise<BarsTail[]> {
    const chunks: Array<typeof reads> = [];
    for (let i = 0; i < reads.length; i += TAILS_PER_MULTI) chunks.push(reads.slice(i, i + TAILS_PER_MULTI));
    const replies = await this.bounded('getBarsTails', () =>
      Promise.all(
        chunks.map((chunk) => {
          const m = this.redis.multi();
          for (const { symbol, timeframe, at } of chunk) {
            const key = this.key(symbol, timeframe);
            m.get(this.revKey(symbol, timeframe));
            m.zcount(key, at.windowFromTs, at.asOfMs);
            m.zrangebyscore(key, at.overlapFromTs, at.asOfMs, 'LIMIT', 0, at.limit);
          }
          return execOrThrow(m);
        }),
      ),
    );
    const flat = replies.flat();
    return reads.map((_, i) => ({ revision: (flat[3 * i] as string | null) ?? null, windowCount: Number(flat[3 * i + 1]), bars: (flat[3 * i + 2] as string[]).map(decodeBar) }));
  }

  /** First and last cached ts and the number of bars, or null when nothing is cached. */
  async span(symbol: string, timeframe: Timeframe): Promise<{ firstTs: number; lastTs: number; count: number } | null> {
    const key = this.key(symbol, timeframe);
    const replies = await this.bounded('span', async () => {
      const m = this.redis.multi();
      // members start with their ts, so no WITHSCORES (whose reply shape differs between RESP2 and RESP3)
      m.zrange(key, '0', '0');
      m.zrange(key, '-1', '-1');
      m.zcard(key);
      return execOrThrow(m);
    });
    const first = replies[0] as string[];
    const last = replies[1] as string[];
    const count = Number(replies[2]);
    if (!count || first.length === 0 || last.length === 0) return null;
    return { firstTs: decodeBar(first[0]).ts, lastTs: decodeBar(last[0]).ts, count };
  }

  /** Drops a series (and its revision: a reader's copy of it no longer matches). */
  async clear(symbol: string, timeframe: Timeframe): Promise<void> {
    await this.bounded('clear', () => this.redis.del(this.key(symbol, timeframe), this.revKey(symbol, timeframe)));
  }

  private trimAndExpire(m: ReturnType<Redis['multi']>, key: string): void {
    m.zremrangebyrank(key, 0, -(this.maxBars + 1));
    m.pexpire(key, this.ttlMs);
  }

  /** Runs one Redis operation with an upper bound on its duration; every failure becomes CacheUnavailableError. */
  private async bounded<T>(what: string, op: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending: Promise<T> | undefined;
    try {
      pending = op();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CacheUnavailableError(`redis ${what}: no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      return await Promise.race([pending, timeout]);
    } catch (err) {
      if (err instanceof CacheUnavailableError) throw err;
      throw new CacheUnavailableError(`redis ${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
      pending?.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
    }
  }
}

/** The newest n bars of an unsorted list, ascending, one per ts (the last given wins). */
function newest(bars: readonly Bar[], n: number): Bar[] {
  const byTs = new Map<number, Bar>();
  for (const b of bars) byTs.set(b.ts, b);
  const sorted = [...byTs.values()].sort((a, b) => a.ts - b.ts);
  return sorted.length > n ? sorted.slice(sorted.length - n) : sorted;
}

/** EXEC, turning a failed MULTI (null) or a failed command inside it into an error. */
async function execOrThrow(m: ReturnType<Redis['multi']> | ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const replies = await m.exec();
  if (replies === null) throw new Error('transaction aborted');
  const out: unknown[] = [];
  for (const [err, value] of replies) {
    if (err) throw err;
    out.push(value);
  }
  return out;
}
