/**
 * How far a feed got, for the deployment cycles that wait for it: after a refresh has stored and cached the bars of
 * close T, the feed writes T here (Redis, and Postgres as the fallback a cycle reads when Redis is down). The
 * watermark only moves forward.
 */
import type { Redis } from 'ioredis';
import type { Queryable } from '../db/sql/queryable';
import { advanceFeedWatermark, selectFeedWatermark } from '../db/sql/market-data-feeds';

const key = (provider: string, timeframe: string) => `md:watermark:${provider}:${timeframe}`;

const SET_MAX = `
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur == nil or cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`;

/** A week: past any long weekend, so a quiet feed's watermark does not vanish. */
const TTL_MS = 7 * 86_400_000;

/** Publishes close T: Postgres first (the durable copy), then Redis (best effort: readers fall back to Postgres). */
export async function publishWatermark(db: Queryable, redis: Redis, provider: string, timeframe: string, closeMs: number, summary: Record<string, unknown>): Promise<{ cached: boolean }> {
  await advanceFeedWatermark(db, provider, timeframe, closeMs, summary);
  try {
    await redis.eval(SET_MAX, 1, key(provider, timeframe), closeMs, TTL_MS);
    return { cached: true };
  } catch {
    return { cached: false };
  }
}

/** The feed's watermark: Redis, else Postgres; null when it never published. */
export async function readWatermark(db: Queryable, redis: Redis, provider: string, timeframe: string): Promise<number | null> {
  try {
    const v = await redis.get(key(provider, timeframe));
    if (v !== null) return Number(v);
  } catch {
    // Redis down: Postgres below
  }
  return selectFeedWatermark(db, provider, timeframe);
}

/** Forgets the Redis copy (a replay feed's new clock: its old watermark was in the old clock's data time). */
export async function clearCachedWatermark(redis: Redis, provider: string, timeframe: string): Promise<void> {
  await redis.del(key(provider, timeframe));
}
