/**
 * The servers a chaos scenario runs against: DATABASE_URL / REDIS_URL / TEMPORAL_ADDRESS from the environment,
 * or private ones under .local/chaos. Each run gets a fresh, migrated database that is dropped afterwards.
 */
import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '../../db/migrate';
import { startPostgres, startRedis, startTemporalDevServer, type Service } from '../../scripts/local-stack';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CHAOS_DIR = path.join(ROOT, '.local', 'chaos');

export interface ChaosStack {
  DATABASE_URL: string;
  REDIS_URL: string;
  TEMPORAL_ADDRESS: string;
  stop(): Promise<void>;
}

/**
 * `existing`: already-running, already-migrated servers (the jest test stack, where the ESM-only migrator
 * cannot load); used as they are, nothing created or dropped.
 */
export async function chaosStack(log: (m: string) => void, existing?: Omit<ChaosStack, 'stop'>): Promise<ChaosStack> {
  if (existing) return { ...existing, stop: async () => undefined };
  const services: Service[] = [];
  const stopAll = () => Promise.allSettled(services.map((s) => s.stop()));
  try {
    let adminUrl = process.env.DATABASE_URL ?? '';
    if (!adminUrl) {
      const pg = await startPostgres({ dataDir: path.join(CHAOS_DIR, 'pg'), logFile: path.join(CHAOS_DIR, 'pg.log') });
      services.push(pg);
      adminUrl = pg.url;
      log(`postgres ${pg.url.replace(/:[^:@/]*@/, ':***@')}`);
    }
    let redisUrl = process.env.REDIS_URL ?? '';
    if (!redisUrl) {
      const redis = await startRedis({ dataDir: path.join(CHAOS_DIR, 'redis'), logFile: path.join(CHAOS_DIR, 'redis.log') });
      services.push(redis);
      redisUrl = redis.url;
    }
    let temporalAddress = process.env.TEMPORAL_ADDRESS ?? '';
    if (!temporalAddress) {
      const t = await startTemporalDevServer({
        uiPort: false,
        logFile: path.join(CHAOS_DIR, 'temporal.log'),
        searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((k) => [k.name, 'Keyword' as const])),
      });
      services.push(t);
      temporalAddress = t.address;
      log(`temporal dev server ${t.address}`);
    }
    const dbName = `chaos_${Date.now()}`;
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
        await c.connect().then(
          () => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined),
          () => undefined,
        );
        await c.end().catch(() => undefined);
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
