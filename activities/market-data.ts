/**
 * Market-data activities (io queue): the recent bars a deployment cycle needs.
 *
 * `loadRecentBars` returns the latest `limit` bars whose OPEN time is <= asOfMs (a cycle at bar close C that wants
 * only closed bars passes asOfMs = C - timeframe). It reads Redis first and falls back to Postgres when Redis is
 * down, short or stale; only when both fail does it throw ApplicationFailure 'MarketDataUnavailable' (retryable) so
 * the cycle can skip. While Redis stays down the fallback is logged once per REDIS_DOWN_WARNING_EVERY_MS, not once
 * per read. Invalid input -> 'InvalidInput', non-retryable.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { z } from 'zod';
import { TIMEFRAMES } from '../domain/bars';
import { barCloses, CALENDAR_IDS, timeframeMs } from '../domain/calendar/calendar';
import { SYMBOL_PATTERN } from '../domain/deployment/spec';
import { BarCache, CacheUnavailableError, type BarCacheOptions } from '../marketdata/cache';
import type { Bar } from '../marketdata/port';
import { selectLatestBars } from '../db/sql/bars';
import { ErrorType } from '../workflows/errors';

/** Most bars loadRecentBars returns: keeps activity results (workflow history) small. */
export const MAX_RECENT_BARS = 500;
/** During a Redis outage every cycle of every deployment falls back to Postgres: one warning per this interval. */
export const REDIS_DOWN_WARNING_EVERY_MS = 30_000;

export interface MarketDataDeps {
  db: Pool;
  redis: Redis;
  cache?: BarCacheOptions;
}

const epochMs = (what: string) => z.number({ error: `${what} must be epoch milliseconds` }).int({ error: `${what} must be whole epoch milliseconds` });
const symbol = z.string({ error: 'symbol must be a string' }).regex(SYMBOL_PATTERN, { error: 'symbol must be 1-32 characters of A-Z, 0-9, ".", "_" or "-"' });
const timeframe = z.enum(TIMEFRAMES, { error: `timeframe must be one of: ${TIMEFRAMES.join(', ')}` });
const calendar = z.enum(CALENDAR_IDS, { error: `calendar must be one of: ${CALENDAR_IDS.join(', ')}` });

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

export function createMarketDataActivities(deps: MarketDataDeps) {
  const { db } = deps;
  const cache = new BarCache(deps.redis, deps.cache);
  const redisDownWarning = warningThrottle(REDIS_DOWN_WARNING_EVERY_MS);

  return {
    /** The latest `limit` bars at `asOfMs`, from Redis or else Postgres; see the module comment. */
    async loadRecentBars(raw: LoadRecentBarsInput): Promise<LoadRecentBarsResult> {
      const ctx = Context.current();
      const input = parseInput(LoadRecentBarsInputSchema, raw);
      const tf = timeframeMs(input.timeframe);
      const result = (bars: Bar[], source: 'redis' | 'postgres'): LoadRecentBarsResult => {
        const lastCloseMs = bars.length > 0 ? bars[bars.length - 1].ts + tf : null;
        return { bars, source, lastCloseMs, stale: barsStale(lastCloseMs, input) };
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
          type: ErrorType.MarketDataUnavailable,
          nonRetryable: false,
        });
      }
      return result(fromPostgres, 'postgres');
    },
  };
}

export type MarketDataActivities = ReturnType<typeof createMarketDataActivities>;

/** Whether bars whose last closed at lastCloseMs are too old at input.asOfMs (loadRecentBars' `stale`). */
export function barsStale(lastCloseMs: number | null, input: Pick<z.output<typeof LoadRecentBarsInputSchema>, 'timeframe' | 'asOfMs' | 'maxStaleBars' | 'calendar'>): boolean {
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

export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
  throw ApplicationFailure.nonRetryable(`invalid input: ${issues}`, ErrorType.InvalidInput);
}
