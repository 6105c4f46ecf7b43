/**
 * The files and the system user around a private Postgres: where its binaries are, running them as the
 * postgres user when we are root (Postgres refuses root), where PGDATA lives, and clearing what a killed
 * run left behind in it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cmdline, isAlive, isExecutable, readNumber, runLogged, signal, waitGone } from './process';

type Ids = { uid: number; gid: number };

const isRoot = () => process.getuid?.() === 0;

export function pgBinDir(): string {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv) return fromEnv;
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = path.join(base, v, 'bin');
    if (['initdb', 'pg_ctl', 'postgres'].every((b) => isExecutable(path.join(dir, b)))) return dir;
  }
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (or $PG_BIN_DIR). Fix: run `npm run provision` (installs Debian\'s postgresql)');
}

/** argv prefix that runs a Postgres binary as the postgres system user when we are root (Postgres refuses root). */
export function asPostgres(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

export function ensurePostgresUser(): Ids | undefined {
  if (!isRoot()) return undefined;
  const id = () => {
    const u = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
  };
  let ids = id();
  if (!ids) {
    const r = spawnSync('useradd', ['--system', '--user-group', '--home-dir', '/var/lib/postgresql', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    ids = id();
    if (!ids) throw new Error(`cannot create the postgres system user (${r.stderr.trim()}). Fix: run \`npm run provision\` as root`);
  }
  return ids;
}

function postgresCanWrite(dir: string): boolean {
  if (!isRoot()) return true;
  return spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dir, '-a', '-x', dir]).status === 0;
}

/**
 * The real PGDATA for dataDir: dataDir/pgdata, or — when the postgres user cannot reach dataDir
 * (e.g. a checkout under /root) — a directory under /var/tmp, linked from dataDir/pgdata.
 */
export function resolvePgData(dataDir: string, ids: Ids | undefined): string {
  const link = path.join(dataDir, 'pgdata');
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(link);
  } catch {
    st = undefined;
  }
  if (st?.isSymbolicLink()) return fs.realpathSync(link);
  if (!st) fs.mkdirSync(link, { mode: 0o700 });
  if (ids) fs.chownSync(link, ids.uid, ids.gid);
  if (postgresCanWrite(link)) return link;
  // postgres cannot traverse a parent of dataDir: keep the cluster outside, link it for discoverability
  fs.rmdirSync(link);
  const hash = createHash('sha1').update(dataDir).digest('hex').slice(0, 12);
  const outside = path.join('/var/tmp', 'durable-trader-pg', hash);
  fs.mkdirSync(outside, { recursive: true, mode: 0o700 });
  if (ids) {
    fs.chmodSync(path.dirname(outside), 0o755);
    fs.chownSync(outside, ids.uid, ids.gid);
  }
  fs.symlinkSync(outside, link);
  return outside;
}

/** Stops a postmaster still running on pgdata (from a killed run) and removes a stale postmaster.pid. */
export async function clearStalePostmaster(bin: string, pgdata: string, logFile: string): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const pid = readNumber(pidFile);
  if (!pid) return;
  if (isAlive(pid) && /postgres|postmaster/.test(cmdline(pid))) {
    const [cmd, args] = asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '30']);
    if ((await runLogged(cmd, args, logFile, 40_000)) !== 0) {
      signal(pid, 'SIGKILL');
      await waitGone(pid, 10_000);
    }
  }
  // Postgres counts a zombie (a killed postmaster its reaper has not collected yet) as alive and would
  // refuse to start; isAlive() knows better, so remove lock files whose owner is dead or a zombie.
  for (const f of ['postmaster.pid', ...fs.readdirSync(pgdata).filter((n) => /^\.s\.PGSQL\.\d+\.lock$/.test(n))]) {
    const file = path.join(pgdata, f);
    if (fs.existsSync(file) && !isAlive(readNumber(file))) fs.rmSync(file, { force: true });
  }
}

export function postgresChildrenOf(pgdata: string): number[] {
  // after a postmaster crash its backends linger briefly; they share the data dir as cwd
  const out: number[] = [];
  const real = fs.realpathSync(pgdata);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/cwd`) === real && isAlive(Number(d))) out.push(Number(d));
    } catch {
      /* not ours or gone */
    }
  }
  return out;
}

/** Stops a Postgres left running on dataDir (e.g. by a killed `stack-cli up`); no-op when none. */
export async function stopPostgresDataDir(dataDir: string): Promise<boolean> {
  const link = path.join(path.resolve(dataDir), 'pgdata');
  if (!fs.existsSync(path.join(link, 'postmaster.pid'))) return false;
  const pgdata = fs.realpathSync(link);
  const pid = readNumber(path.join(pgdata, 'postmaster.pid'));
  const wasAlive = isAlive(pid);
  await clearStalePostmaster(pgBinDir(), pgdata, path.join(path.resolve(dataDir), 'postgres.log'));
  return wasAlive;
}
