import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface RunningProcess {
  child: ChildProcess;
  /** everything the process printed so far */
  output(): string;
  /** SIGTERM, then resolves with the exit code (or the signal name) */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts `tsx <entry>` from the repository root with `env`, capturing its output. IO workers start without the
 * end-of-day scheduler (tests share one server) unless `env` turns it on.
 */
export function startTsx(entry: string, env: Record<string, string | undefined>): RunningProcess {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [entry], {
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
