/** Databases of one run on a shared Postgres: created fresh, migrated, dropped afterwards. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { REPO_ROOT } from '../paths';

/** Creates database `name` on the server of `adminUrl` and returns its URL (same credentials). */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops database `name` (closing its connections); never throws, a server already gone has nothing to drop. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect().then(
    () => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined),
    () => undefined,
  );
  await c.end().catch(() => undefined);
}

/** `db/migrate.ts` in a child process: node-pg-migrate is ESM-only and cannot load inside jest. */
export function migrateInChild(databaseUrl: string, redisUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'db', 'migrate.ts')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`migration failed (${code ?? signal}): ${out.slice(-2000)}`));
    });
  });
}
