import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { bundleEntry } from './entry-bundle';
import { testStack } from './stack';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKER_KINDS = ['io', 'cpu'] as const;
const workerBundle = (kind: WorkerKind) => `${kind}-worker.cjs`;
export type WorkerKind = (typeof WORKER_KINDS)[number];

export interface RunningProcess {
  child: ChildProcess;
  /** everything the process printed so far */
  output(): string;
  /** SIGTERM, then resolves with the exit code (or the signal name) */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts `<entry>` (TypeScript, tsx as node's loader) from the repository root with `env`, capturing its output. IO workers start without the
 * end-of-day scheduler (tests share one server) unless `env` turns it on.
 */
export function startTsx(entry: string, env: Record<string, string | undefined>): RunningProcess {
  // node with tsx as its loader, one process: the tsx command's signal relay SIGKILLs a child that has not acknowledged a
  // SIGTERM within 2 x 30 ms, so under load a graceful shutdown ended as exit 143 (backtest-e2e, CI of 2026-12-07).
  return startProcess(process.execPath, ['--import', 'tsx', entry], env);
}

/** Bundles workers/io-worker.ts and workers/cpu-worker.ts into `outDir` (see bundleEntry), once per test run. */
export async function buildWorkerBundles(outDir: string): Promise<void> {
  await Promise.all(WORKER_KINDS.map((kind) => bundleEntry(path.join(ROOT, 'workers', `${kind}-worker.ts`), path.join(outDir, workerBundle(kind)))));
}

/**
 * Starts the IO or CPU worker from its bundle built in global setup, as startTsx would (same cwd, environment and
 * output capture), without tsx's start-up cost. Through tsx, workers stay tested by test/integration/backtest-e2e.test.ts.
 */
export function startWorker(kind: WorkerKind, env: Record<string, string | undefined>): RunningProcess {
  return startProcess(process.execPath, workerBundleArgs(kind), { ...WORKER_BUNDLE_ENV, ...env });
}

/** node's arguments that run the worker from its bundle (for WorkerSupervisor's nodeArgs); its env needs WORKER_BUNDLE_ENV. */
export const workerBundleArgs = (kind: WorkerKind) => [path.join(testStack().WORKFLOW_BUNDLE_DIR, workerBundle(kind))];
export const WORKER_BUNDLE_ENV = { NODE_PATH: path.join(ROOT, 'node_modules') };

function startProcess(command: string, args: string[], env: Record<string, string | undefined>): RunningProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, EOD_SCHEDULER: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    child,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` every 200 ms until it returns a value, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
