/**
 * Starts the paper broker as a child process (brokers/paper/main.ts), for tests and for the platform's
 * local stack, and waits until it answers. The child is `node --import tsx main.ts`, one process: the
 * `tsx` CLI would run the script in a grandchild that a SIGKILL of the CLI leaves behind, still holding
 * the port, and crash tests need SIGKILL to really kill the broker.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(__dirname, 'main.ts');
const MAX_OUTPUT = 256 * 1024;

export interface StartPaperBrokerOptions {
  databaseUrl: string;
  /** default: a free port chosen now; pass the previous port to restart "the same" broker */
  port?: number;
  account?: string;
  initialCash?: number;
  partialFillSlices?: number;
  /** require this key pair (default: any pair is accepted) */
  auth?: { keyId: string; secret: string };
  /** pino level of the child; default 'warn' */
  logLevel?: string;
  /** default 30 s */
  readyTimeoutMs?: number;
}

export interface PaperBrokerProcess {
  url: string;
  port: number;
  pid: number;
  /** SIGTERM (graceful), SIGKILL after 5 s; resolves when the process is gone */
  stop(): Promise<void>;
  /** SIGKILL at once (a crash); resolves when the process is gone */
  kill(): Promise<void>;
  /** what the process printed so far (JSON log lines) */
  output(): string;
  /** resolves with the exit code or signal name */
  exited: Promise<number | string>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Spawns the paper broker and resolves once GET /health answers from that very process. */
export async function startPaperBroker(opts: StartPaperBrokerOptions): Promise<PaperBrokerProcess> {
  const port = opts.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PAPER_BROKER_') && k !== 'DATABASE_URL') env[k] = v;
  Object.assign(env, {
    DATABASE_URL: opts.databaseUrl,
    PAPER_BROKER_PORT: String(port),
    PAPER_BROKER_HOST: '127.0.0.1',
    PAPER_BROKER_LOG_LEVEL: opts.logLevel ?? 'warn',
    ...(opts.account ? { PAPER_BROKER_ACCOUNT: opts.account } : {}),
    ...(opts.initialCash !== undefined ? { PAPER_BROKER_CASH: String(opts.initialCash) } : {}),
    ...(opts.partialFillSlices !== undefined ? { PAPER_BROKER_PARTIAL_FILL_SLICES: String(opts.partialFillSlices) } : {}),
    ...(opts.auth ? { PAPER_BROKER_KEY_ID: opts.auth.keyId, PAPER_BROKER_SECRET: opts.auth.secret } : {}),
  });

  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString();
    if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // Never leave a broker behind when the parent exits without stopping it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let gone = false;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = true;
      process.removeListener('exit', killOnExit);
      resolve(code ?? signal ?? -1);
    }),
  );
  const end = async (signal: NodeJS.Signals) => {
    if (!gone) child.kill(signal);
    if (signal === 'SIGTERM') {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    } else {
      await exited;
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (gone) throw new Error(`the paper broker exited before it was ready (${await exited}):\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = (await res.json()) as { pid?: number };
      if (res.ok && body.pid === child.pid) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await end('SIGKILL');
      throw new Error(`the paper broker did not answer on ${url} within ${opts.readyTimeoutMs ?? 30_000} ms:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    port,
    pid: child.pid!,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    output: () => out,
    exited,
  };
}
