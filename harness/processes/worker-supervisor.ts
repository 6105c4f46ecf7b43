/**
 * Worker processes under a supervisor: each is `node --import tsx workers/<kind>-worker.ts` or given node arguments (one process, so a
 * SIGKILL really kills it), restarted whenever it dies until the supervisor is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../paths';

interface Slot {
  index: number;
  child?: ChildProcess;
  expectedKill: boolean;
  replacing?: boolean;
  exited?: Promise<void>;
}

export interface SupervisorStats {
  starts: number;
  /** restarts after a death (crash point, harness kill, error exit) */
  restarts: number;
  /** calm SIGTERM replacements (the drain switching crash points off) */
  replacements: number;
  /** deaths by SIGKILL the harness did not send (the worker's own crash points) */
  crashPointKills: number;
  /** SIGKILLs sent by the harness */
  harnessKills: number;
  /** exits with an error code (not a signal): a worker that failed on its own */
  errorExits: number;
  /** crash-point deaths by the CRASH_AT that was armed in the process that died */
  crashPointHits: Record<string, number>;
}

export class WorkerSupervisor {
  readonly stats: SupervisorStats = { starts: 0, restarts: 0, replacements: 0, crashPointKills: 0, harnessKills: 0, errorExits: 0, crashPointHits: {} };
  private readonly slots: Slot[];
  private stopping = false;
  private readonly logDir: string;
  private readonly kind: 'io' | 'cpu';
  private readonly nodeArgs: string[];
  private readonly logs: WriteStream[] = [];
  private readonly killAllOnExit = () => this.slots.forEach((s) => s.child?.kill('SIGKILL'));

  constructor(
    private readonly baseEnv: Record<string, string>,
    count: number,
    /** extra env for the n-th start (e.g. the crash point to arm) */
    public envForStart: (n: number, stats: SupervisorStats) => Record<string, string> = () => ({}),
    private readonly log: (m: string) => void = () => undefined,
    /** which worker (default io); where their output goes; node's arguments (default: the worker's source through tsx) */
    opts: { kind?: 'io' | 'cpu'; logDir: string; nodeArgs?: string[] },
  ) {
    this.kind = opts.kind ?? 'io';
    this.nodeArgs = opts.nodeArgs ?? ['--import', 'tsx', path.join(REPO_ROOT, 'workers', `${this.kind}-worker.ts`)];
    this.logDir = opts.logDir;
    this.slots = Array.from({ length: count }, (_, index) => ({ index, expectedKill: false }));
    mkdirSync(this.logDir, { recursive: true });
    process.on('exit', this.killAllOnExit);
  }

  start(): void {
    for (const s of this.slots) this.spawn(s);
  }

  /** the process ids of the workers running now (a worker's Temporal identity is `pid@host`) */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.child?.pid !== undefined && s.child.exitCode === null && s.child.signalCode === null ? [s.child.pid] : []));
  }

  alive(): number {
    return this.slots.filter((s) => s.child && s.child.exitCode === null && s.child.signalCode === null).length;
  }

  /** SIGKILLs one live worker chosen by `pick` (a number in [0,1)); the supervisor restarts it. */
  killOne(pick: number): boolean {
    const live = this.slots.filter((s) => s.child && s.child.exitCode === null && s.child.signalCode === null);
    if (!live.length) return false;
    const s = live[Math.floor(pick * live.length)]!;
    s.expectedKill = true;
    this.stats.harnessKills++;
    s.child!.kill('SIGKILL');
    return true;
  }

  /** Replaces every worker (SIGTERM, restart) with the env of `envForStart` from now on. */
  async replaceAll(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        const c = s.child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        s.expectedKill = true;
        s.replacing = true;
        const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
        c.kill('SIGTERM');
        await s.exited;
        clearTimeout(timer);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const c = s.child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return;
        const timer = setTimeout(() => c.kill('SIGKILL'), 8_000);
        c.kill('SIGTERM');
        await s.exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.logs.map((l) => new Promise<void>((r) => l.end(() => r()))));
    process.removeListener('exit', this.killAllOnExit);
  }

  /** worker-<n>.log for IO workers (as before), cpu-worker-<n>.log for CPU workers */
  private logName(s: Slot): string {
    return this.kind === 'io' ? `worker-${s.index}.log` : `${this.kind}-worker-${s.index}.log`;
  }

  private spawn(s: Slot): void {
    const n = this.stats.starts++;
    // Tools share servers: the end-of-day scheduler (one per namespace) runs only where a tool asks for it.
    const env: NodeJS.ProcessEnv = { EOD_SCHEDULER: 'off', ...this.baseEnv, ...this.envForStart(n, this.stats) };
    const logFile = createWriteStream(path.join(this.logDir, this.logName(s)), { flags: 'a' });
    this.logs.push(logFile);
    logFile.write(`--- start #${n} ${new Date().toISOString()} ${env.CRASH_AT ? `CRASH_AT=${env.CRASH_AT} p=${env.CRASH_PROBABILITY}` : ''}\n`);
    const child = spawn(process.execPath, this.nodeArgs, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(logFile, { end: false });
    child.stderr!.pipe(logFile, { end: false });
    s.child = child;
    s.expectedKill = false;
    s.replacing = false;
    s.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        logFile.write(`--- exit code=${code} signal=${signal}\n`);
        if (!s.expectedKill) {
          if (signal === 'SIGKILL') {
            this.stats.crashPointKills++;
            const armed = env.CRASH_AT ?? '(none)';
            this.stats.crashPointHits[armed] = (this.stats.crashPointHits[armed] ?? 0) + 1;
          }
          else if (!this.stopping) {
            this.stats.errorExits++;
            this.log(`${this.kind} worker ${s.index} exited on its own (code ${code}, signal ${signal}); see ${path.join(this.logDir, this.logName(s))}`);
          }
        }
        resolve();
        if (!this.stopping) {
          if (s.replacing) this.stats.replacements++;
          else this.stats.restarts++;
          setTimeout(() => !this.stopping && this.spawn(s), 200);
        }
      }),
    );
  }
}
