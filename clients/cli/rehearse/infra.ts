import { existsSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Client, Pool } from 'pg';
import { startPaperBroker, type PaperBrokerProcess } from '../../../brokers/paper/start';
import { migrate } from '../../../db/migrate';
import { CliError } from '../errors';

/**
 * What a rehearsal runs on. Postgres and Redis are the platform's (`npm start`'s, or DATABASE_URL / REDIS_URL), but
 * nothing of the rehearsal lands in the platform's data: it gets a fresh database on that server (dropped at the
 * end unless --keep) and a key prefix of its own in Redis. Its Temporal is the Java time-skipping test server,
 * installed by `npm run provision -- rehearse` (rehearse never installs anything itself); its paper broker is a
 * process of its own on the rehearsal's database; its workflows are the IO workers' pre-built bundle.
 */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const NPM_START_DIR = path.join(REPO_ROOT, '.local', 'dev');
export const PROVISION_COMMAND = 'npm run provision -- rehearse';

export interface RehearsalInfra {
  /** the rehearsal's own database */
  db: Pool;
  databaseName: string;
  redis: Redis;
  paper: PaperBrokerProcess;
  timeSkippingServer: string;
  ioBundle: string;
  stop(keep: boolean): Promise<void>;
}

/** A URL from the environment, or the one `npm start` gives its embedded server (its port file under .local/dev). */
function serverUrl(env: string, dir: string, url: (port: number) => string): string {
  const given = process.env[env];
  if (given) return given;
  const portFile = path.join(NPM_START_DIR, dir, 'port');
  if (existsSync(portFile)) {
    const port = Number(readFileSync(portFile, 'utf8').trim());
    if (Number.isInteger(port) && port > 0) return url(port);
  }
  throw new CliError(`rehearse needs the platform's ${dir === 'pg' ? 'Postgres' : 'Redis'}: start it with \`npm start\`, or set ${env}`);
}

/** The Java time-skipping server's launcher, or a clear error naming the command that installs it. */
export function timeSkippingServer(): string {
  const cache = process.env.DURABLE_TRADER_CACHE || path.join(process.env.HOME || os.homedir(), '.cache', 'durable-trader');
  const lib = path.join(cache, 'test-server', 'lib');
  const jars = existsSync(lib) ? readdirSync(lib).filter((f) => /^temporal-test-server-.*\.jar$/.test(f)) : [];
  if (jars.length === 0) {
    throw new CliError(`the Temporal time-skipping server is not installed (no jars in ${lib}). Install it once with: ${PROVISION_COMMAND}`, 1, [
      '  (Java 17, Maven and the temporal-test-server jars, with a start-up archive; `npm test` installs it too)',
    ]);
  }
  return path.join(REPO_ROOT, 'tools', 'temporal-test-server', 'run.sh');
}

/** The IO workers' pre-built workflow bundle: the same workflow code production runs. */
export function ioBundlePath(): string {
  const file = path.resolve(process.env.WORKFLOW_BUNDLE_DIR ?? path.join(REPO_ROOT, 'dist', 'bundles'), 'io.js');
  if (!existsSync(file)) throw new CliError(`workflow bundle ${file} is missing: run \`npm run build:bundles\` (npm start builds it too)`);
  return file;
}

async function connectOrExplain(url: string, what: string): Promise<void> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await c.connect();
  } catch (err) {
    throw new CliError(`cannot reach the platform's Postgres (${what}): ${(err as Error).message}. Start it with \`npm start\`, or set DATABASE_URL`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The platform's Postgres and Redis, checked reachable, and what the rehearsal runs (checked installed). */
export async function platformServers(): Promise<{ adminUrl: string; redisUrl: string; timeSkipping: string; ioBundle: string }> {
  const timeSkipping = timeSkippingServer();
  const ioBundle = ioBundlePath();
  const adminUrl = serverUrl('DATABASE_URL', 'pg', (p) => `postgres://app:app@127.0.0.1:${p}/app`);
  const redisUrl = serverUrl('REDIS_URL', 'redis', (p) => `redis://127.0.0.1:${p}`);
  await connectOrExplain(adminUrl, 'DATABASE_URL');
  return { adminUrl, redisUrl, timeSkipping, ioBundle };
}

/** Creates, migrates and connects everything a rehearsal runs on; `stop` takes it all down again. */
export async function openRehearsalInfra(
  servers: Awaited<ReturnType<typeof platformServers>>,
  opts: { account: string; initialCash: number; log: (m: string) => void },
): Promise<RehearsalInfra> {
  const { adminUrl, redisUrl, timeSkipping, ioBundle } = servers;
  const databaseName = `rehearse_${Date.now()}_${process.pid}`;
  const closers: Array<() => Promise<unknown>> = [];
  // Each closer runs even when one before it fails; a failure is said, never swallowed (a database left behind must be named).
  const stopAll = async () => {
    for (const close of [...closers].reverse()) {
      await close().catch((err: Error) => process.stderr.write(`warning: cleaning up the rehearsal: ${err.message}\n`));
    }
  };
  try {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${databaseName}`).finally(() => admin.end());
    const u = new URL(adminUrl);
    u.pathname = `/${databaseName}`;
    const databaseUrl = u.toString();
    closers.push(() => dropDatabase(adminUrl, databaseName));
    opts.log(`database ${databaseName} (on the platform's Postgres)`);
    await migrate(databaseUrl);
    const db = new Pool({ connectionString: databaseUrl, max: 8 });
    // end() resolves before its idle connections have closed, and the drop then terminates them: not an error here
    db.on('error', () => undefined);
    closers.push(() => db.end());
    // Every key under a prefix of its own: the rehearsal's bars never reach the platform's caches.
    const redis = new Redis(redisUrl, { keyPrefix: `${databaseName}:`, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000 });
    closers.push(async () => {
      await clearPrefix(redisUrl, `${databaseName}:`);
      redis.disconnect();
    });
    const paper = await startPaperBroker({ databaseUrl, account: opts.account, initialCash: opts.initialCash });
    closers.push(() => paper.stop());
    return {
      db, databaseName, redis, paper, timeSkippingServer: timeSkipping, ioBundle,
      async stop(keep: boolean) {
        if (keep) closers.shift(); // the drop is first in the list: keep the database for inspection
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

const DROP_ATTEMPTS = 5;
const DROP_BACKOFF_MS = 400;

/**
 * Drops the rehearsal's database, retried: on a busy server the admin connection can be refused for a moment, or a
 * closing pool's connection can still be on its way in when FORCE terminates the others.
 */
async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  let last: Error | undefined;
  for (let attempt = 1; attempt <= DROP_ATTEMPTS; attempt++) {
    const c = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
    try {
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (err) {
      last = err as Error;
      await new Promise((resolve) => setTimeout(resolve, DROP_BACKOFF_MS * attempt));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  throw new Error(`database ${name} was not dropped after ${DROP_ATTEMPTS} attempts (${last?.message}); drop it with: DROP DATABASE ${name} WITH (FORCE)`);
}

async function clearPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000, lazyConnect: true });
  try {
    await r.connect();
    const keys: string[] = [];
    for (let cursor = '0'; ; ) {
      const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      keys.push(...batch);
      if ((cursor = next) === '0') break;
    }
    if (keys.length) await r.del(...keys);
  } finally {
    r.disconnect();
  }
}
