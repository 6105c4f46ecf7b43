/** A private redis-server on 127.0.0.1 that fault tests can stop, crash and start again on the same port. */
import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LOCALHOST, isPortFree, pickPort } from './ports';
import {
  cancelWatchdog, failure, groupKillScript, isAlive, isExecutable, logSince, logSize, readNumber, signal, sleep, spawnServer, startWatchdog, stopGroup, stopPidFile, waitGone,
} from './process';
import type { ManagedService } from './service';

export interface RedisOptions {
  dataDir: string;
  port?: number;
  logFile?: string;
  /** append-only file in dataDir so data survives restart()/kill() (default true) */
  persist?: boolean;
  stopWithParent?: boolean;
}

function redisServerPath(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    const p = path.join(dir || '.', 'redis-server');
    if (isExecutable(p)) return p;
  }
  throw new Error('redis-server not found. Fix: run `npm run provision` (installs Debian\'s redis-server)');
}

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
      const sizeBefore = logSize(logFile);
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
      const newLog = logSince(logFile, sizeBefore);
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
