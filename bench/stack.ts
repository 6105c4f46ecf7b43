import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '../db/migrate';
import { startPostgres, startRedis, startTemporalDevServer, type Service } from '../scripts/local-stack';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const DIR = path.resolve(__dirname, '..', '.local', 'bench');

export interface BenchStack {
  DATABASE_URL: string;
  REDIS_URL: string;
  TEMPORAL_ADDRESS: string;
  stop(): Promise<void>;
}

/**
 * Real servers for a benchmark: the given DATABASE_URL / REDIS_URL / TEMPORAL_ADDRESS, or private ones
 * under .local/bench. Each run gets a fresh, migrated database that is dropped afterwards.
 */
export async function benchStack(opts: { temporal: boolean; redis: boolean }): Promise<BenchStack> {
  const services: Service[] = [];
  const stopAll = () => Promise.allSettled(services.map((s) => s.stop()));
  try {
    let adminUrl = process.env.DATABASE_URL ?? '';
    if (!adminUrl) {
      const pg = await startPostgres({ dataDir: path.join(DIR, 'pg'), logFile: path.join(DIR, 'pg.log') });
      services.push(pg);
      adminUrl = pg.url;
    }
    let redisUrl = process.env.REDIS_URL ?? '';
    if (opts.redis && !redisUrl) {
      const redis = await startRedis({ dataDir: path.join(DIR, 'redis'), logFile: path.join(DIR, 'redis.log') });
      services.push(redis);
      redisUrl = redis.url;
    }
    let temporalAddress = process.env.TEMPORAL_ADDRESS ?? '';
    if (opts.temporal && !temporalAddress) {
      const t = await startTemporalDevServer({
        uiPort: false,
        logFile: path.join(DIR, 'temporal.log'),
        searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((k) => [k.name, 'Keyword' as const])),
      });
      services.push(t);
      temporalAddress = t.address;
    }
    const dbName = `bench_${Date.now()}`;
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    await migrate(u.toString());
    return {
      DATABASE_URL: u.toString(),
      REDIS_URL: redisUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      async stop() {
        const c = new Client({ connectionString: adminUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
        await c.end();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
