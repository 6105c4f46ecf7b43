/**
 * A private Postgres on 127.0.0.1 that fault tests can crash and start again on the same data dir and port.
 * The data dir, the system user and stale-state clean-up are in postgres-dir.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { LOCALHOST, isPortFree, pickPort } from './ports';
import { asPostgres, clearStalePostmaster, ensurePostgresUser, pgBinDir, postgresChildrenOf, resolvePgData } from './postgres-dir';
import { cancelWatchdog, failure, isAlive, logSince, logSize, readNumber, runLogged, shq, signal, sleep, startWatchdog, waitGone } from './process';
import type { ManagedService } from './service';

export interface PostgresOptions {
  dataDir: string;
  port?: number;
  logFile?: string;
  /** stop the server when this process dies without calling stop() (default true) */
  stopWithParent?: boolean;
  /** extra postgresql.conf settings for this start (e.g. a benchmark's shared_preload_libraries), written beside the port */
  settings?: Record<string, string | number>;
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
    const extra = Object.entries(opts.settings ?? {}).map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v}'`}\n`).join('');
    fs.writeFileSync(
      path.join(pgdata, 'local-stack.conf'),
      `port = ${p}\nlisten_addresses = '${LOCALHOST}'\nunix_socket_directories = '${socketDir}'\nmax_connections = 200\n${extra}`,
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
      const sizeBefore = logSize(logFile);
      const code = await startOnce(port);
      if (code === 0) break;
      const newLog = logSince(logFile, sizeBefore);
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
