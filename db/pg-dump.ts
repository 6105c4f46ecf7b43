import { spawn } from 'node:child_process';
import path from 'node:path';

export interface PgTarget {
  databaseUrl: string;
  /** directory holding pg_dump and pg_restore; unset: the ones on PATH */
  binDir?: string;
}

/**
 * The URL without its password, and the password for PGPASSWORD: a password in argv shows in `ps` to every user.
 */
function connectionArgs(databaseUrl: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(databaseUrl);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { dbname: u.toString(), env: password ? { ...process.env, PGPASSWORD: password } : process.env };
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'], signal });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4_000) stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(binary)} exited ${code}: ${stderr.trim().slice(0, 1_000)}`))));
  });
}

const bin = (t: PgTarget, name: string) => (t.binDir ? path.join(t.binDir, name) : name);

/** pg_dump in the custom format into `file`; with `snapshot`, the dump reads exactly what that exported snapshot saw. */
export async function pgDump(t: PgTarget, file: string, snapshot?: string, signal?: AbortSignal): Promise<void> {
  const { dbname, env } = connectionArgs(t.databaseUrl);
  const args = ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, ...(snapshot ? [`--snapshot=${snapshot}`] : []), `--dbname=${dbname}`];
  await run(bin(t, 'pg_dump'), args, env, signal);
}

/** pg_restore of a custom-format dump into the (empty) database `t` names; stops at the first error. */
export async function pgRestore(t: PgTarget, file: string): Promise<void> {
  const { dbname, env } = connectionArgs(t.databaseUrl);
  await run(bin(t, 'pg_restore'), ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${dbname}`, file], env);
}
