/**
 * The real HTTP API (clients/api/server.ts) as a child process against the scenario's stack, and a monitor that
 * polls its GET /health and one data route while the faults happen, so a scenario can tell what a user (or a load
 * balancer) saw: states over time, how long each took to turn degraded and ok again, and any 500.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/paths';
import { freePort } from '../../harness/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ApiProcess {
  /** exits nobody asked for (a crash) */
  crashes = 0;
  starts = 0;
  readonly viewerKey = `chaos-viewer-${randomBytes(12).toString('hex')}`;
  private child?: ChildProcess;
  private stopping = false;
  private readonly logStream: WriteStream;
  private readonly logFile: string;

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly log: (m: string) => void,
    logDir: string,
  ) {
    mkdirSync(logDir, { recursive: true });
    this.logFile = path.join(logDir, 'api.log');
    this.logStream = createWriteStream(this.logFile, { flags: 'a' });
  }

  /** Starts the API (output appended to `logDir`/api.log) and resolves once GET /health answers (any status). */
  static async start(env: Record<string, string>, log: (m: string) => void, logDir: string): Promise<ApiProcess> {
    const api = new ApiProcess(await freePort(), env, log, logDir);
    await api.spawnAndWait();
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      const timer = setTimeout(() => c.kill('SIGKILL'), 8_000);
      c.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((r) => this.logStream.end(() => r()));
  }

  private async spawnAndWait(): Promise<void> {
    const env = { ...this.env, PORT: String(this.port), HOST: '127.0.0.1', API_KEYS: `${this.viewerKey}:viewer:chaos` };
    this.starts++;
    this.logStream.write(`--- start #${this.starts} ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'clients', 'api', 'server.ts')], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(this.logStream, { end: false });
    child.stderr!.pipe(this.logStream, { end: false });
    this.child = child;
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', (code, signal) => {
      process.removeListener('exit', killOnExit);
      this.logStream.write(`--- exit code=${code} signal=${signal}\n`);
      if (this.stopping || this.child !== child) return;
      this.crashes++;
      this.log(`the API exited on its own (code ${code}, signal ${signal}); see ${this.logFile}; restarting it`);
      void this.restartUntilUp();
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!this.alive()) throw new Error(`the API exited during start-up; see ${this.logFile}`);
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(3_000) }).catch(() => undefined);
      if (res) return;
      await sleep(250);
    }
    throw new Error(`the API did not answer on ${this.url} within 60 s; see ${this.logFile}`);
  }

  private async restartUntilUp(): Promise<void> {
    // Its start-up needs Postgres and Temporal: try again until they answer.
    while (!this.stopping) {
      try {
        await this.spawnAndWait();
        return;
      } catch {
        await sleep(1_000);
      }
    }
  }
}

/** One GET /health answer (or the failure to get one). */
export interface HealthSample {
  /** epoch ms when the request was sent */
  at: number;
  latencyMs: number;
  /** HTTP status; 0 when there was no answer */
  code: number;
  status?: 'up' | 'degraded' | 'down';
  /** the dependencies the answer names as down */
  down?: string[];
  error?: string;
}

/** A stretch of consecutive samples in the same state. */
export interface HealthSegment {
  /** seconds since the monitor started */
  fromS: number;
  toS: number;
  state: string;
  samples: number;
}

interface HealthBody {
  status?: 'up' | 'degraded' | 'down';
  down?: string[];
  checks?: Record<string, { ok?: boolean }>;
}

/** "up", "degraded: redis", "down: postgres", "503 (unreadable)", "no answer" */
export function healthState(s: HealthSample): string {
  if (s.code === 0) return 'no answer';
  if (s.status === 'up') return 'up';
  if (s.status === 'degraded' || s.status === 'down') return `${s.status}: ${(s.down ?? []).join(', ') || '?'}`;
  return `${s.code} (unreadable)`;
}

export class ApiMonitor {
  readonly health: HealthSample[] = [];
  /** answers of the data route by HTTP status ("0" = no answer) */
  readonly dataRoute: Record<string, number> = {};
  /** 503 answers of the data route without Retry-After */
  dataRoute503WithoutRetryAfter = 0;
  readonly t0 = Date.now();
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly api: Pick<ApiProcess, 'url' | 'viewerKey'>,
    opts: { healthEveryMs?: number; dataEveryMs?: number; dataPath?: string } = {},
  ) {
    this.loops = [this.healthLoop(opts.healthEveryMs ?? 500), this.dataLoop(opts.dataEveryMs ?? 1_000, opts.dataPath ?? '/v1/orders?limit=5')];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** States over time (seconds since the monitor started). */
  timeline(): HealthSegment[] {
    const out: HealthSegment[] = [];
    for (const s of this.health) {
      const state = healthState(s);
      const t = Math.round((s.at - this.t0) / 100) / 10;
      const last = out[out.length - 1];
      if (last && last.state === state) {
        last.toS = t;
        last.samples++;
      } else out.push({ fromS: t, toS: t, state, samples: 1 });
    }
    return out;
  }

  /** Samples sent in [fromMs, toMs). */
  between(fromMs: number, toMs: number): HealthSample[] {
    return this.health.filter((s) => s.at >= fromMs && s.at < toMs);
  }

  /** The first sample sent at or after `fromMs` that satisfies `pred`. */
  first(fromMs: number, pred: (s: HealthSample) => boolean): HealthSample | undefined {
    return this.health.find((s) => s.at >= fromMs && pred(s));
  }

  private async healthLoop(everyMs: number): Promise<void> {
    while (this.running) {
      const at = Date.now();
      const sample: HealthSample = { at, latencyMs: 0, code: 0 };
      try {
        // with a key: without one /health says only up, degraded or down, not which dependency
        const res = await fetch(`${this.api.url}/health`, { headers: { authorization: `Bearer ${this.api.viewerKey}` }, signal: AbortSignal.timeout(5_000) });
        sample.code = res.status;
        const body = (await res.json().catch(() => ({}))) as HealthBody;
        if (body.status === 'up' || body.status === 'degraded' || body.status === 'down') sample.status = body.status;
        sample.down = body.down ?? Object.entries(body.checks ?? {}).filter(([, c]) => c?.ok === false).map(([k]) => k);
      } catch (err) {
        sample.error = (err as Error).message;
      }
      sample.latencyMs = Date.now() - at;
      this.health.push(sample);
      await sleep(Math.max(0, everyMs - sample.latencyMs));
    }
  }

  private async dataLoop(everyMs: number, dataPath: string): Promise<void> {
    while (this.running) {
      const at = Date.now();
      let code = 0; // no answer
      try {
        const res = await fetch(`${this.api.url}${dataPath}`, { headers: { authorization: `Bearer ${this.api.viewerKey}` }, signal: AbortSignal.timeout(10_000) });
        code = res.status;
        if (code === 503 && !res.headers.get('retry-after')) this.dataRoute503WithoutRetryAfter++;
        await res.arrayBuffer();
      } catch {
        // counted as "0"
      }
      this.dataRoute[String(code)] = (this.dataRoute[String(code)] ?? 0) + 1;
      await sleep(Math.max(0, everyMs - (Date.now() - at)));
    }
  }
}
