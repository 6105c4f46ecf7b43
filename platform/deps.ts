import { Pool } from 'pg';
import { Redis } from 'ioredis';
import type { Config } from './config';
import type { AppLogger } from './logger';

/**
 * How long an idle connection stays open: longer than a bar period, so a bar close's burst finds the connections of
 * the last one open, with their caches warm and their named statements prepared (db/sql/queryable.ts). At 30 s the
 * runtime bench opened ~30 connections per 1-minute close (IO and gate pools, paper broker), each planning its named
 * statements afresh. The pools' max bounds what stays open.
 */
const PG_IDLE_TIMEOUT_MS = 10 * 60_000;

/** A pg pool sized for this 2-core class (bigger pools only add fsync contention). */
export function createPgPool(config: Config, logger: AppLogger, applicationName: string): Pool {
  const pool = new Pool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: PG_IDLE_TIMEOUT_MS,
  });
  // Postgres going away (restart, failover) emits 'error' on every client it drops: through the pool for idle
  // clients, and on the client itself for checked-out ones (a transaction held across a broker call). An 'error'
  // event nobody listens to throws and ends the process, so both get a listener; the client's logs it once.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', (err) => logger.warn({ error: err.message, code: (err as { code?: string }).code }, 'postgres connection lost'));
  });
  return pool;
}

/**
 * Redis that fails fast instead of queueing: commands error within ~1 s while Redis is down,
 * and the client keeps reconnecting in the background.
 */
export function createRedis(config: Config, logger: AppLogger): Redis {
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  });
  let down = false;
  redis.on('error', (err) => {
    if (!down) logger.warn({ error: err.message }, 'redis unavailable');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('redis reconnected');
    down = false;
  });
  return redis;
}

/** Resolves once Redis is ready, or rejects after `timeoutMs` (start-up only). */
export async function redisReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis not ready after ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
