/**
 * The servers a chaos scenario runs against: DATABASE_URL / REDIS_URL / TEMPORAL_ADDRESS from the environment,
 * or private ones under .local/chaos. Each run gets a fresh, migrated database that is dropped afterwards.
 * Scenarios that stop and kill Postgres or Redis (R3, R4) get servers of their own that they can control
 * (`managedStack`), never the ones from the environment.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { LOCAL_DIR } from '../../harness/paths';
import {
  migrateInChild,
  PRODUCT_SEARCH_ATTRIBUTES,
  privateStack,
  startPostgres,
  startRedis,
  startTemporalDevServer,
  type ManagedService,
  type PrivateStack,
  type Service,
} from '../../harness/stack';

export const CHAOS_DIR = path.join(LOCAL_DIR, 'chaos');

export type ChaosStack = PrivateStack & {
  /** present when the scenario owns the server and may stop, kill and start it */
  postgres?: ManagedService;
  redis?: ManagedService;
};

/**
 * `existing`: already-running, already-migrated servers (the jest test stack, where the ESM-only migrator
 * cannot load); used as they are, nothing created or dropped.
 */
export async function chaosStack(log: (m: string) => void, existing?: Omit<ChaosStack, 'stop'>): Promise<ChaosStack> {
  if (existing) return { ...existing, stop: async () => undefined };
  return privateStack({ dir: CHAOS_DIR, dbPrefix: 'chaos', temporal: true, redis: true, log });
}

/**
 * A Postgres and a Redis of the scenario's own under `dir` (same port across stop/kill/start), a fresh migrated
 * database, and the Temporal server at `temporalAddress` (else TEMPORAL_ADDRESS, else a private dev server).
 * Redis starts empty; stop() drops the database and stops what it started.
 */
export async function managedStack(opts: { dir: string; log: (m: string) => void; temporalAddress?: string }): Promise<ChaosStack> {
  const started: Service[] = [];
  const stopAll = () => Promise.allSettled(started.map((s) => s.stop()));
  try {
    const postgres = await startPostgres({ dataDir: path.join(opts.dir, 'pg'), logFile: path.join(opts.dir, 'pg.log') });
    started.push(postgres);
    rmSync(path.join(opts.dir, 'redis'), { recursive: true, force: true }); // no cache or heartbeats from an earlier run
    const redis = await startRedis({ dataDir: path.join(opts.dir, 'redis'), logFile: path.join(opts.dir, 'redis.log') });
    started.push(redis);
    let temporalAddress = opts.temporalAddress ?? process.env.TEMPORAL_ADDRESS ?? '';
    if (!temporalAddress) {
      const t = await startTemporalDevServer({ uiPort: false, logFile: path.join(opts.dir, 'temporal.log'), searchAttributes: PRODUCT_SEARCH_ATTRIBUTES });
      started.push(t);
      temporalAddress = t.address;
    }
    const adminUrl = postgres.url;
    const dbName = `chaos_${Date.now()}`;
    await withAdminClient(adminUrl, async (c) => {
      // Databases of earlier runs that ended without cleaning up: this server is the scenario's own.
      const old = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'chaos\\_%'");
      for (const { datname } of old.rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${dbName}`);
    });
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    await migrateInChild(u.toString(), redis.url);
    opts.log(`own postgres :${postgres.port} and redis :${redis.port}, temporal ${temporalAddress}`);
    return {
      DATABASE_URL: u.toString(),
      REDIS_URL: redis.url,
      TEMPORAL_ADDRESS: temporalAddress,
      postgres,
      redis,
      async stop() {
        if (!postgres.running()) await postgres.start().catch(() => undefined);
        await withAdminClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(() => undefined);
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function withAdminClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined); // a server going away between statements is reported by the statement
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}
