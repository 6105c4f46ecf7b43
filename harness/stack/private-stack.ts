import path from 'node:path';
import { migrate } from '../../db/migrate';
import { createDatabase, dropDatabase } from './database';
import { startPostgres } from './postgres';
import { startRedis } from './redis';
import type { Service } from './service';
import { PRODUCT_SEARCH_ATTRIBUTES, startTemporalDevServer } from './temporal';

export interface PrivateStack {
  DATABASE_URL: string;
  REDIS_URL: string;
  TEMPORAL_ADDRESS: string;
  /** the private dev server's Prometheus endpoint, when asked for (`temporalMetrics`) */
  temporalMetricsUrl?: string;
  stop(): Promise<void>;
}

/**
 * Real servers for a benchmark, a chaos scenario or a recording: the given DATABASE_URL / REDIS_URL /
 * TEMPORAL_ADDRESS, or private ones under `dir`. Each run gets a fresh, migrated database (`<prefix>_<time>`)
 * that stop() drops.
 */
export async function privateStack(opts: {
  dir: string;
  dbPrefix: string;
  temporal: boolean;
  redis: boolean;
  temporalMetrics?: boolean;
  /** extra postgresql.conf settings of the private Postgres (ignored when DATABASE_URL names a server) */
  postgresSettings?: Record<string, string | number>;
  log?: (m: string) => void;
}): Promise<PrivateStack> {
  const log = opts.log ?? (() => undefined);
  const services: Service[] = [];
  const stopAll = () => Promise.allSettled(services.map((s) => s.stop()));
  try {
    let adminUrl = process.env.DATABASE_URL ?? '';
    if (!adminUrl) {
      const pg = await startPostgres({ dataDir: path.join(opts.dir, 'pg'), logFile: path.join(opts.dir, 'pg.log'), settings: opts.postgresSettings });
      services.push(pg);
      adminUrl = pg.url;
      log(`postgres ${pg.url.replace(/:[^:@/]*@/, ':***@')}`);
    }
    let redisUrl = process.env.REDIS_URL ?? '';
    if (opts.redis && !redisUrl) {
      const redis = await startRedis({ dataDir: path.join(opts.dir, 'redis'), logFile: path.join(opts.dir, 'redis.log') });
      services.push(redis);
      redisUrl = redis.url;
    }
    let temporalAddress = process.env.TEMPORAL_ADDRESS ?? '';
    let temporalMetricsUrl: string | undefined;
    if (opts.temporal && !temporalAddress) {
      const t = await startTemporalDevServer({ uiPort: false, logFile: path.join(opts.dir, 'temporal.log'), searchAttributes: PRODUCT_SEARCH_ATTRIBUTES, metrics: opts.temporalMetrics });
      services.push(t);
      temporalAddress = t.address;
      temporalMetricsUrl = t.metricsUrl;
      log(`temporal dev server ${t.address}`);
    }
    const dbName = `${opts.dbPrefix}_${Date.now()}`;
    const databaseUrl = await createDatabase(adminUrl, dbName);
    await migrate(databaseUrl);
    return {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      ...(temporalMetricsUrl ? { temporalMetricsUrl } : {}),
      async stop() {
        await dropDatabase(adminUrl, dbName);
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
