/**
 * Market-data activities (io queue): refresh / backfill bars from a provider into Postgres and the Redis cache,
 * and load the recent bars a deployment cycle needs.
 *
 * - `refreshBars` fetches [fromMs, toMs] in chunks, validates (rejects counted), stores in Postgres through the
 *   idempotent importBarColumns, keeps the Redis cache a contiguous suffix of the Postgres series (best effort:
 *   Redis down only makes `cached: false`), heartbeats after every chunk and resumes from its last heartbeat on a
 *   retry, and reports the data-quality level of what it received (after a resume: of the range from the resume
 *   point; the counts include the earlier attempt's). "Now" for validation and quality is the provider's data
 *   clock when it has one (a replay), else the wall clock. Bars still forming at that now are skipped (neither
 *   stored nor rejected): the store only ever holds closed bars, which importBarColumns never overwrites.
 * - `loadRecentBars` returns the latest `limit` bars whose OPEN time is <= asOfMs (a cycle at bar close C that
 *   wants only closed bars passes asOfMs = C - timeframe, or relies on the store holding closed bars only, as
 *   refreshBars ensures).
 *   It reads Redis first and falls back to Postgres when Redis is down, short or stale; only when
 *   both fail does it throw ApplicationFailure 'MarketDataUnavailable' (retryable) so the cycle can skip.
 *   While Redis stays down the fallback is logged once per REDIS_DOWN_WARNING_EVERY_MS, not once per read.
 *
 * Errors: provider unavailable (network, timeout, 429, 5xx) -> 'MarketDataUnavailable', retryable, with the
 * provider's retry-after as nextRetryDelay; provider refusal (4xx) -> 'MarketDataRequestRejected', non-retryable;
 * unknown provider -> 'UnknownMarketDataProvider', invalid input -> 'InvalidInput', both non-retryable.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { z } from 'zod';
import { importBarColumns, type BarImportCounts } from '../db/bar-import';
import { TIMEFRAMES, type Timeframe } from '../domain/bars';
import { barCloses, CALENDAR_IDS, timeframeMs } from '../domain/calendar/calendar';
import { SYMBOL_PATTERN } from '../domain/deployment/spec';
import { BarCache, CacheUnavailableError, type BarCacheOptions } from '../marketdata/cache';
import { barsToColumns, MarketDataErrorType, MarketDataRequestError, MarketDataUnavailableError, type Bar, type MarketDataProvider } from '../marketdata/port';
import { assessQuality, validateBars, type DataQuality } from '../marketdata/quality';
import { latestBarTsBefore, selectLatestBars } from '../marketdata/sql';
import { ErrorType } from '../workflows/errors';

/** Bars per provider call during a refresh (one heartbeat each). */
export const REFRESH_CHUNK_BARS = 10_000;
/** Most bars loadRecentBars returns: keeps activity results (workflow history) small. */
export const MAX_RECENT_BARS = 500;
/** During a Redis outage every cycle of every deployment falls back to Postgres: one warning per this interval. */
export const REDIS_DOWN_WARNING_EVERY_MS = 30_000;

export interface MarketDataDeps {
  db: Pool;
  redis: Redis;
  /** by name, e.g. { alpaca: new AlpacaMarketData(...), replay: new ReplayProvider(...) } */
  providers: Record<string, MarketDataProvider>;
  /** wall clock; default Date.now */
  now?: () => number;
  cache?: BarCacheOptions;
  /** bars per provider call during a refresh (default REFRESH_CHUNK_BARS) */
  chunkBars?: number;
}

const epochMs = (what: string) => z.number({ error: `${what} must be epoch milliseconds` }).int({ error: `${what} must be whole epoch milliseconds` });
const symbol = z.string({ error: 'symbol must be a string' }).regex(SYMBOL_PATTERN, { error: 'symbol must be 1-32 characters of A-Z, 0-9, ".", "_" or "-"' });
const timeframe = z.enum(TIMEFRAMES, { error: `timeframe must be one of: ${TIMEFRAMES.join(', ')}` });
const calendar = z.enum(CALENDAR_IDS, { error: `calendar must be one of: ${CALENDAR_IDS.join(', ')}` });

export const RefreshBarsInputSchema = z
  .strictObject({
    provider: z.string({ error: 'provider must be a string' }).min(1),
    symbol,
    timeframe,
    /** inclusive bounds on bar open times */
    fromMs: epochMs('fromMs'),
    toMs: epochMs('toMs'),
    /** the exchange calendar the quality check expects bars from (default XNYS) */
    calendar: calendar.default('XNYS'),
  })
  .refine((i) => i.fromMs <= i.toMs, { error: 'fromMs must be <= toMs', path: ['toMs'] });
export type RefreshBarsInput = z.input<typeof RefreshBarsInputSchema>;

export interface RefreshBarsResult {
  /** bars the provider returned */
  fetched: number;
  /** bars new to Postgres (0 when the range was stored before) */
  stored: number;
  /** invalid, misaligned, future or duplicate bars, not stored */
  rejected: number;
  /** false when Redis was unavailable (Postgres has the bars anyway); true also when the bars were older than the cached window */
  cached: boolean;
  quality: DataQuality;
}

export const LoadRecentBarsInputSchema = z.strictObject({
  symbol,
  timeframe,
  limit: z.int({ error: 'limit must be a whole number' }).min(1).max(MAX_RECENT_BARS, { error: `limit must be at most ${MAX_RECENT_BARS}` }),
  /** bars with open time <= asOfMs */
  asOfMs: epochMs('asOfMs'),
  /** stale when the last bar closed more than this many bars before asOfMs */
  maxStaleBars: z.int({ error: 'maxStaleBars must be a whole number' }).min(0),
  /** count stale bars on this exchange calendar (nights, weekends and holidays do not count); default: plain time */
  calendar: calendar.optional(),
});
export type LoadRecentBarsInput = z.input<typeof LoadRecentBarsInputSchema>;

export interface LoadRecentBarsResult {
  /** ascending */
  bars: Bar[];
  source: 'redis' | 'postgres';
  /** close time (open + timeframe) of the last bar, null when there is none */
  lastCloseMs: number | null;
  stale: boolean;
}

/** Heartbeat details of refreshBars: where a retry resumes. */
interface RefreshProgress {
  key: string;
  nextFromMs: number;
  fetched: number;
  stored: number;
  rejected: number;
}

export function createMarketDataActivities(deps: MarketDataDeps) {
  const { db, providers } = deps;
  const now = deps.now ?? Date.now;
  const cache = new BarCache(deps.redis, deps.cache);
  const chunkBars = deps.chunkBars ?? REFRESH_CHUNK_BARS;
  const redisDownWarning = warningThrottle(REDIS_DOWN_WARNING_EVERY_MS);

  async function storeBars(sym: string, tf: Timeframe, bars: Bar[]): Promise<BarImportCounts> {
    const client = await db.connect();
    try {
      return await importBarColumns(client, sym, tf, barsToColumns(bars));
    } finally {
      client.release();
    }
  }

  /**
   * Puts a stored batch into the cache so the cache stays a contiguous suffix of the Postgres series: appends or
   * corrects in place when it connects, re-seeds from Postgres when the cache is empty or missed bars (e.g. Redis
   * was down during earlier refreshes), and leaves batches older than the cached window out.
   */
  async function cacheBatch(sym: string, tf: Timeframe, batch: Bar[], dataNowMs: number): Promise<void> {
    const span = await cache.span(sym, tf);
    const first = batch[0].ts;
    const last = batch[batch.length - 1].ts;
    if (span !== null && last < span.firstTs) return;
    const prev = span === null ? null : await latestBarTsBefore(db, sym, tf, first);
    if (span === null || (prev !== null && prev > span.lastTs)) {
      await cache.replaceBars(sym, tf, await selectLatestBars(db, sym, tf, Math.max(dataNowMs, last), cache.maxBars));
    } else {
      await cache.putBars(sym, tf, batch);
    }
  }

  function isStale(lastCloseMs: number | null, input: z.output<typeof LoadRecentBarsInputSchema>): boolean {
    if (lastCloseMs === null) return true;
    const tf = timeframeMs(input.timeframe);
    if (input.calendar !== undefined) {
      try {
        return barCloses(input.calendar, lastCloseMs, input.asOfMs, input.timeframe).length > input.maxStaleBars;
      } catch (err) {
        if (!(err instanceof RangeError)) throw err; // outside the calendar's years: plain time below
      }
    }
    return lastCloseMs < input.asOfMs - input.maxStaleBars * tf;
  }

  return {
    /** Fetches, validates and stores [fromMs, toMs]; idempotent (a second run stores 0); see the module comment. */
    async refreshBars(raw: RefreshBarsInput): Promise<RefreshBarsResult> {
      const ctx = Context.current();
      const input = parseInput(RefreshBarsInputSchema, raw);
      const provider = Object.prototype.hasOwnProperty.call(providers, input.provider) ? providers[input.provider] : undefined;
      if (provider === undefined) {
        throw ApplicationFailure.nonRetryable(
          `no market data provider "${input.provider}"; configured: ${Object.keys(providers).join(', ') || '(none)'}`,
          MarketDataErrorType.UnknownProvider,
        );
      }
      const dataNow = () => (provider.dataNow ? provider.dataNow() : now());
      const tfMs = timeframeMs(input.timeframe);
      const key = `${input.provider}:${input.symbol}:${input.timeframe}:${input.fromMs}:${input.toMs}`;
      const resumed = resumePoint(ctx.info.heartbeatDetails, key);
      const startMs = resumed?.nextFromMs ?? input.fromMs;
      let fetched = resumed?.fetched ?? 0;
      let stored = resumed?.stored ?? 0;
      let rejected = resumed?.rejected ?? 0;
      let cached = true;
      const receivedTs: number[] = [];
      let cursor = startMs;

      while (cursor <= input.toMs) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('refreshBars cancelled');
        let bars: Bar[];
        try {
          bars = await provider.fetchBars({ symbol: input.symbol, timeframe: input.timeframe, fromMs: cursor, toMs: input.toMs, limit: chunkBars }, ctx.cancellationSignal);
        } catch (err) {
          throw providerFailure(err, ctx.cancellationSignal);
        }
        fetched += bars.length;
        const nowMs = dataNow();
        const inRange = bars.filter((b) => b.ts >= cursor && b.ts <= input.toMs);
        // A bar still forming (some providers serve it) is skipped, not rejected: importBarColumns never overwrites,
        // so a partial bar stored now would stay; the next refresh stores the final one.
        const closed = inRange.filter((b) => !(b.ts <= nowMs && b.ts + tfMs > nowMs));
        const valid = validateBars(closed, { timeframe: input.timeframe, nowMs });
        const chunkRejected = valid.rejected + (bars.length - inRange.length);
        rejected += chunkRejected;
        if (chunkRejected > 0) {
          ctx.log.warn('market data: bars rejected', { provider: provider.name, symbol: input.symbol, timeframe: input.timeframe, rejected: chunkRejected, samples: valid.rejections.slice(0, 5) });
        }
        if (valid.bars.length > 0) {
          stored += (await storeBars(input.symbol, input.timeframe, valid.bars)).inserted;
          if (cached) {
            try {
              await cacheBatch(input.symbol, input.timeframe, valid.bars, nowMs);
            } catch (err) {
              if (!(err instanceof CacheUnavailableError)) throw err;
              cached = false; // no more attempts in this run: each would cost up to the cache's timeout
              ctx.log.warn('market data: redis unavailable, bars stored in postgres only', { symbol: input.symbol, timeframe: input.timeframe, error: err.message });
            }
          }
          for (const b of valid.bars) receivedTs.push(b.ts);
        }
        let lastTs = Number.NEGATIVE_INFINITY;
        for (const b of bars) if (b.ts > lastTs) lastTs = b.ts;
        const next = lastTs >= cursor ? lastTs + 1 : cursor;
        const progress: RefreshProgress = { key, nextFromMs: next, fetched, stored, rejected };
        ctx.heartbeat(progress);
        if (bars.length < chunkBars) break;
        if (next === cursor) throw ApplicationFailure.retryable(`${provider.name} returned a full page that does not advance past ${cursor}`, MarketDataErrorType.Unavailable);
        cursor = next;
      }

      const quality = assessQuality({
        ts: receivedTs,
        timeframe: input.timeframe,
        fromMs: startMs,
        toMs: input.toMs,
        nowMs: dataNow(),
        rejected,
        calendar: input.calendar,
      });
      if (quality.level !== 'OK') {
        ctx.log.warn(`market data quality ${quality.level}`, { provider: provider.name, symbol: input.symbol, timeframe: input.timeframe, ...quality });
      }
      return { fetched, stored, rejected, cached, quality };
    },

    /** The latest `limit` bars at `asOfMs`, from Redis or else Postgres; see the module comment. */
    async loadRecentBars(raw: LoadRecentBarsInput): Promise<LoadRecentBarsResult> {
      const ctx = Context.current();
      const input = parseInput(LoadRecentBarsInputSchema, raw);
      const tf = timeframeMs(input.timeframe);
      const result = (bars: Bar[], source: 'redis' | 'postgres'): LoadRecentBarsResult => {
        const lastCloseMs = bars.length > 0 ? bars[bars.length - 1].ts + tf : null;
        return { bars, source, lastCloseMs, stale: isStale(lastCloseMs, input) };
      };

      let fromRedis: Bar[] | undefined;
      let redisProblem: string;
      try {
        fromRedis = await cache.getRecentBars(input.symbol, input.timeframe, input.limit, input.asOfMs);
        redisProblem = `${fromRedis.length} of ${input.limit} bars cached`;
        redisDownWarning.clear();
      } catch (err) {
        if (!(err instanceof CacheUnavailableError)) throw err;
        redisProblem = err.message;
        const notLogged = redisDownWarning.take();
        if (notLogged !== undefined) {
          ctx.log.warn('market data: redis unavailable, reading postgres', { symbol: input.symbol, timeframe: input.timeframe, error: err.message, fallbacksNotLogged: notLogged });
        }
      }
      if (fromRedis !== undefined && fromRedis.length >= input.limit) {
        const r = result(fromRedis, 'redis');
        if (!r.stale) return r;
        redisProblem = 'cached bars are stale';
      }

      let fromPostgres: Bar[];
      try {
        fromPostgres = await selectLatestBars(db, input.symbol, input.timeframe, input.asOfMs, input.limit);
      } catch (err) {
        const pgProblem = (err as Error)?.message ?? String(err);
        if (fromRedis !== undefined && fromRedis.length > 0) {
          ctx.log.warn('market data: postgres unavailable, using the bars redis has', { symbol: input.symbol, timeframe: input.timeframe, bars: fromRedis.length, error: pgProblem });
          return result(fromRedis, 'redis');
        }
        throw ApplicationFailure.create({
          message: `market data unavailable for ${input.symbol} ${input.timeframe}: redis: ${redisProblem}; postgres: ${pgProblem}`,
          type: MarketDataErrorType.Unavailable,
          nonRetryable: false,
        });
      }
      return result(fromPostgres, 'postgres');
    },
  };
}

export type MarketDataActivities = ReturnType<typeof createMarketDataActivities>;

/** Lets a repeated warning through at once, then at most every `everyMs` (counting what it held back), until clear(). */
function warningThrottle(everyMs: number) {
  let lastAt: number | undefined;
  let held = 0;
  return {
    /** how many were held back since the last one when this one is to be logged, else undefined */
    take(): number | undefined {
      const now = Date.now();
      if (lastAt !== undefined && now - lastAt < everyMs) {
        held++;
        return undefined;
      }
      const n = held;
      lastAt = now;
      held = 0;
      return n;
    },
    clear(): void {
      lastAt = undefined;
      held = 0;
    },
  };
}

function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
  throw ApplicationFailure.nonRetryable(`invalid input: ${issues}`, ErrorType.InvalidInput);
}

function resumePoint(details: unknown, key: string): RefreshProgress | undefined {
  const d = details as Partial<RefreshProgress> | undefined;
  if (d === null || typeof d !== 'object' || d.key !== key) return undefined;
  const nums = [d.nextFromMs, d.fetched, d.stored, d.rejected];
  return nums.every((n) => typeof n === 'number' && Number.isFinite(n)) ? (d as RefreshProgress) : undefined;
}

/** A provider error as the ApplicationFailure retry policies see. */
function providerFailure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return new CancelledFailure('refreshBars cancelled');
  if (err instanceof MarketDataUnavailableError) {
    return ApplicationFailure.create({
      message: err.message,
      type: MarketDataErrorType.Unavailable,
      nonRetryable: false,
      nextRetryDelay: err.retryAfterMs,
    });
  }
  if (err instanceof MarketDataRequestError) {
    return ApplicationFailure.create({ message: err.message, type: MarketDataErrorType.RequestRejected, nonRetryable: true, details: [{ status: err.status }] });
  }
  return err;
}
