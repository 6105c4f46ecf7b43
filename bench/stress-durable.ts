/**
 * The durable stress scan end to end (issue 12): the API, Temporal (dev server), the CPU worker process (compute on
 * its one main thread, as in production) and Postgres, against the same cells in this process on one thread.
 *  - durable1000: 1,000 cells on 100k bars through the API, against loading the bars and runScan here (interleaved,
 *    each durable scan on a symbol its worker has not loaded, so both sides load the bars); goal ratio <= 1.25;
 *  - kills: the CPU worker SIGKILLed 3 times during a 2,000-cell scan; the work done twice must be at most the
 *    batches in flight when it died, and the document the one an uninterrupted run prints;
 *  - cells100k: 100,000 cells; the largest history of any run (goal far below 10,000 events) and the worker's memory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Pool } from 'pg';
import { buildApp } from '../clients/api/app';
import { toJson } from '../clients/cli/local-backtest';
import { loadBarColumns } from '../db/sql/bars';
import { batchStats } from '../db/sql/stress-scan-batches';
import { getScanJob } from '../db/sql/stress-scan-jobs';
import { runsPerBatch } from '../domain/scan/plan';
import { prepareScan } from '../domain/scan/prepare';
import { runScan } from '../domain/scan/scan';
import { randomWalkBars } from '../domain/synthetic';
import { buildBundles } from '../harness/bundles';
import { storeBars } from '../harness/fixtures/bars';
import { LOCAL_DIR, REPO_ROOT } from '../harness/paths';
import { WorkerSupervisor } from '../harness/processes/worker-supervisor';
import { loadConfig } from '../platform/config';
import { createRedis } from '../platform/deps';
import { listLiveWorkers } from '../platform/heartbeat';
import { createLogger } from '../platform/logger';
import { connectTemporal } from '../platform/temporal';
import { scanDocument } from '../services/stress-scan-document';
import { benchStack, median } from './stack';

const REPS = 3;
const KEY = 'bench-trader-key-000000000001';
const settings = { strategy: 'sma-cross', commissionRate: 0.0005 };
/** 25 x 40 = 1,000 cells; 50 x 40 = 2,000 */
const grid1k = { fast: { from: 5, to: 29, step: 1 }, slow: { from: 40, to: 79, step: 1 } };
const grid2k = { fast: { from: 5, to: 54, step: 1 }, slow: { from: 60, to: 99, step: 1 } };
const grid100k = { fast: { from: 1, to: 100, step: 1 }, slow: { from: 101, to: 1_100, step: 1 } };

interface Ctx {
  app: FastifyInstance;
  pool: Pool;
  cpu: WorkerSupervisor;
  /** batches one CPU worker runs at once */
  slots: number;
  history: (workflowId: string) => Promise<number[]>;
}

export async function benchDurableScans(log: (m: string) => void = console.log): Promise<Record<string, unknown>> {
  const stack = await benchStack({ temporal: true, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const env = {
    PATH: process.env.PATH!, HOME: process.env.HOME!, DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    WORKFLOW_BUNDLE_DIR: path.join(LOCAL_DIR, 'bench', 'bundles'), LOG_LEVEL: 'warn', API_KEYS: `${KEY}:trader:bench`, SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000',
  };
  const logDir = path.join(LOCAL_DIR, 'bench', 'stress-workers');
  const cpu = new WorkerSupervisor(env, 1, () => ({}), log, { kind: 'cpu', logDir });
  const io = new WorkerSupervisor(env, 1, () => ({}), log, { kind: 'io', logDir });
  const config = loadConfig(env);
  const logger = createLogger('warn');
  const redis = createRedis(config, logger);
  const temporal = await connectTemporal(config);
  let app: FastifyInstance | undefined;
  try {
    await buildBundles(env.WORKFLOW_BUNDLE_DIR);
    const bars = randomWalkBars(100_000, { seed: 12 });
    for (let k = 0; k <= REPS + 1; k++) await storeBars(pool, `D${k}`, '1m', bars);
    await storeBars(pool, 'C2K', '1d', randomWalkBars(2_000, { seed: 3, stepMs: 86_400_000 }));
    cpu.start();
    io.start();
    app = await buildApp({ config, db: pool, redis, temporal: temporal.client, logger });
    await app.ready();
    for (const deadline = Date.now() + 60_000; new Set((await listLiveWorkers(redis)).map((w) => w.queue)).size < 2; ) {
      if (Date.now() > deadline) throw new Error('workers did not report a heartbeat within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const history = async (workflowId: string) => {
      const sizes: number[] = [];
      for (let runId: string | undefined = (await temporal.client.workflow.getHandle(workflowId).describe()).runId; runId; ) {
        const events: Array<{ workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string | null } | null }> = (await temporal.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
        sizes.push(events.length);
        runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
      }
      return sizes;
    };
    const ctx: Ctx = { app, pool, cpu, slots: config.CPU_ACTIVITY_SLOTS, history };
    const durable1000 = await benchDurable1000(ctx, log);
    const kills = await benchKills(ctx, log);
    const cells100k = await bench100k(ctx, log);
    return { passed: durable1000.passed === true && kills.passed === true && cells100k.passed === true, durable1000, kills, cells100k };
  } finally {
    await app?.close();
    await cpu.stop();
    await io.stop();
    await temporal.connection.close();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }
}

async function startScan(ctx: Ctx, body: Record<string, unknown>): Promise<{ id: string; workflowId: string; batches: number }> {
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/stress-scans', headers: { authorization: `Bearer ${KEY}` }, payload: body });
  if (res.statusCode !== 202) throw new Error(`POST /v1/stress-scans: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function finished(ctx: Ctx, id: string): Promise<string> {
  for (;;) {
    const job = await getScanJob(ctx.pool, id);
    if (job && ['completed', 'failed', 'cancelled'].includes(job.status)) return job.status;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The stored document (every cell) as text, and what runScan prints here for the same bars. */
async function documents(ctx: Ctx, id: string, symbol: string, timeframe: string, spec: Record<string, unknown>): Promise<{ stored: string; local: string }> {
  const job = (await getScanJob(ctx.pool, id))!;
  const bars = await loadBarColumns(ctx.pool, { symbol, timeframe });
  const iso = (ms: number) => new Date(ms).toISOString();
  const data = { file: null, rows: bars.length, rejected: 0, firstTs: iso(bars.ts[0]), lastTs: iso(bars.ts[bars.length - 1]) };
  return { stored: JSON.stringify(await scanDocument(ctx.pool, job, 10_000_000)), local: toJson({ symbol, timeframe, from: null, to: null, data, ...runScan(bars, prepareScan(spec)) }) };
}

async function benchDurable1000(ctx: Ctx, log: (m: string) => void): Promise<Record<string, unknown>> {
  const spec = { settings, grid: grid1k, objective: 'sharpe' };
  const durable = async (symbol: string) => {
    const t0 = performance.now();
    const { id, batches } = await startScan(ctx, { symbol, timeframe: '1m', ...spec });
    if ((await finished(ctx, id)) !== 'completed') throw new Error(`scan ${id} did not complete`);
    return { ms: performance.now() - t0, id, batches };
  };
  const inProcess = async (symbol: string) => {
    const t0 = performance.now();
    const result = runScan(await loadBarColumns(ctx.pool, { symbol, timeframe: '1m' }), prepareScan(spec));
    return { ms: performance.now() - t0, best: result.cells[0].cell };
  };
  await durable('D0'); // warm-up: JIT in the worker and here, pools, the dev server
  await inProcess('D0');
  const a: number[] = [];
  const b: number[] = [];
  let last = { id: '', batches: 0 };
  for (let k = 1; k <= REPS; k++) {
    const d = await durable(`D${k}`);
    const p = await inProcess(`D${k}`);
    a.push(d.ms);
    b.push(p.ms);
    last = d;
    log(`durable1000 rep ${k}: through the API ${Math.round(d.ms)} ms, in process ${Math.round(p.ms)} ms`);
  }
  const docs = await documents(ctx, last.id, `D${REPS}`, '1m', spec);
  const stats = await batchStats(ctx.pool, last.id);
  const phases = await phasesOf(ctx, last.id);
  const ratio = median(a) / median(b);
  return {
    cells: 1_000, bars: 100_000, batches: last.batches, threads: 1, repetitions: REPS,
    durableMs: Math.round(median(a)), inProcessMs: Math.round(median(b)), ratio: +ratio.toFixed(3),
    barLoadsInLastScan: stats.barLoads, lastScanPhasesMs: phases, sameDocument: docs.stored === docs.local,
    goal: { ratioAtMost: 1.25 }, passed: ratio <= 1.25 && docs.stored === docs.local,
    note: 'durable = POST through the API until the job row says completed (workflow start, batches on the CPU worker loading the bars once, cells stored, ranked in SQL, document stored); in process = load the same bars from Postgres + runScan, one thread',
  };
}

/** Where a scan's time went, from its rows: queued -> running -> first batch -> last batch done -> finished. */
async function phasesOf(ctx: Ctx, id: string): Promise<Record<string, number>> {
  const { rows } = await ctx.pool.query<Record<string, number>>(
    `SELECT round(extract(epoch from j.started_at - j.created_at) * 1000) AS "startWorkflow",
       round(extract(epoch from min(b.started_at) - j.started_at) * 1000) AS "toFirstBatch",
       round(extract(epoch from max(b.finished_at) - min(b.started_at)) * 1000) AS "batches",
       round(extract(epoch from j.finished_at - max(b.finished_at)) * 1000) AS "finish"
     FROM stress_scan_jobs j JOIN stress_scan_batches b ON b.job_id = j.id WHERE j.id = $1
     GROUP BY j.id, j.created_at, j.started_at, j.finished_at`,
    [id],
  );
  return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
}

async function benchKills(ctx: Ctx, log: (m: string) => void): Promise<Record<string, unknown>> {
  const spec = { settings, grid: grid2k, objective: 'sortino' };
  const { id } = await startScan(ctx, { symbol: `D${REPS + 1}`, timeframe: '1m', ...spec });
  const runsDone = async () => (await getScanJob(ctx.pool, id))!.runs_done;
  let kills = 0;
  let lastKill = new Date(0);
  for (const atLeast of [0, 500, 1_000]) {
    // a batch the live worker has been computing for a second (attempts cut short by an earlier kill stay unfinished)
    for (;;) {
      const { rows } = await ctx.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM stress_scan_batches WHERE job_id = $1 AND finished_at IS NULL AND started_at > $2 AND started_at < clock_timestamp() - interval '1 second'`,
        [id, lastKill],
      );
      if (Number(rows[0].n) > 0 && (await runsDone()) >= atLeast && ctx.cpu.alive() === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    ctx.cpu.killOne(0);
    lastKill = (await ctx.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
    kills++;
    log(`kills: SIGKILL ${kills} with ${await runsDone()} runs stored`);
  }
  const status = await finished(ctx, id);
  const stats = await batchStats(ctx.pool, id);
  const { rows } = await ctx.pool.query<{ computing: number; inserted: number | null }>('SELECT computing, inserted FROM stress_scan_batches WHERE job_id = $1 AND finished_at IS NOT NULL', [id]);
  const finishedAttemptsExact = rows.every((r) => r.computing === r.inserted);
  const perBatch = runsPerBatch(100_000);
  const bound = kills * ctx.slots * perBatch;
  const recomputed = stats.computing - 2_000;
  const docs = await documents(ctx, id, `D${REPS + 1}`, '1m', spec);
  const passed = status === 'completed' && recomputed <= bound && finishedAttemptsExact && docs.stored === docs.local;
  return {
    cells: 2_000, bars: 100_000, runsPerBatch: perBatch, kills, status, attempts: stats.attempts, attemptsKilled: stats.unfinished, recomputedRuns: recomputed,
    recomputedAtMost: bound, finishedAttemptsComputedOnlyWhatWasNotStored: finishedAttemptsExact, sameDocumentAsInProcess: docs.stored === docs.local, passed,
    note: `bound = kills x CPU_ACTIVITY_SLOTS (${ctx.slots}) x runs per batch: the batches that can be in flight on the killed worker`,
  };
}

async function bench100k(ctx: Ctx, log: (m: string) => void): Promise<Record<string, unknown>> {
  const before = workerMemory();
  const t0 = performance.now();
  const { id, workflowId, batches } = await startScan(ctx, { symbol: 'C2K', timeframe: '1d', settings, grid: grid100k, objective: 'net-profit' });
  const started = performance.now() - t0;
  const status = await finished(ctx, id);
  const ms = performance.now() - t0;
  const sizes = await ctx.history(workflowId);
  const memory = workerMemory();
  const phases = await phasesOf(ctx, id);
  log(`cells100k: ${status} in ${Math.round(ms)} ms, ${batches} batches, ${sizes.length} workflow run(s), largest history ${Math.max(...sizes)} events`);
  const read = performance.now();
  const page = await ctx.app.inject({ method: 'GET', url: `/v1/stress-scans/${id}/cells?sort=sharpe&limit=1000`, headers: { authorization: `Bearer ${KEY}` } });
  return {
    cells: 100_000, bars: 2_000, batches, status, ms: Math.round(ms), requestCheckedAndStartedMs: Math.round(started), phasesMs: phases,
    workflowRuns: sizes.length, historyEventsPerRun: sizes.reverse(), historyEventsMax: Math.max(...sizes), cellsPageBySharpeMs: Math.round(performance.now() - read), cellsPageStatus: page.statusCode,
    cpuWorkerMemoryMB: { before: before?.rss ?? null, after: memory?.rss ?? null, peak: memory?.peak ?? null }, goal: { historyEventsAtMost: 10_000 }, passed: status === 'completed' && Math.max(...sizes) <= 10_000,
  };
}

/** The CPU worker child's resident memory now and at its peak (VmRSS, VmHWM), in MB. */
function workerMemory(): { rss: number; peak: number } | null {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(REPO_ROOT, 'workers', 'cpu-worker.ts'))) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
    } catch {
      // the process went away
    }
  }
  return null;
}
