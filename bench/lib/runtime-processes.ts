/** The runtime benchmark's CPU worker process, and waiting until every worker reports a heartbeat. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { sleep } from '../../harness/async';
import { listLiveWorkers } from '../../platform/heartbeat';
import { TASK_QUEUES } from '../../workflows/task-queues';

const ROOT = path.resolve(__dirname, '..', '..');

export function spawnCpuWorker(env: Record<string, string>, logDir: string): ChildProcess {
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(path.join(logDir, 'cpu-worker.log'), { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers', 'cpu-worker.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // two sources into one file: neither may end it, the child's exit does
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', (code, signal) => {
    process.removeListener('exit', killOnExit);
    log.end(`--- exit code=${code} signal=${signal}\n`);
  });
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}

export async function waitForWorkers(redis: Redis, io: number, deadlineMs: number): Promise<void> {
  for (;;) {
    const live = await listLiveWorkers(redis);
    const count = (q: string) => live.filter((w) => w.queue === q).length;
    if (count(TASK_QUEUES.io) >= io && count(TASK_QUEUES.cpu) >= 1) return;
    if (Date.now() > deadlineMs) throw new Error(`workers did not report a heartbeat in time (io ${count(TASK_QUEUES.io)}/${io}, cpu ${count(TASK_QUEUES.cpu)}/1)`);
    await sleep(250);
  }
}
