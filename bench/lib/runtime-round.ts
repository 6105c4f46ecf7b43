/**
 * One round of the runtime benchmark: N deployments on a fresh private stack (Postgres, Redis, Temporal dev
 * server), the paper broker, the IO worker process(es) under the chaos supervisor and a CPU worker process; each
 * deployment is created as POST /v1/deployments creates it (runtime-deployments.ts) with one shared replay clock at
 * speed 1, so every deployment sees each bar close at the same wall instant, as live deployments on one exchange
 * do. After one warm-up close it measures `minutes` closes, then stops everything. Figures: runtime-figures.ts
 * (latency, ticks) and runtime-cpu.ts (CPU per deployment and close).
 */
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { startPaperBroker } from '../../brokers/paper/start';
import type { BarColumns } from '../../domain/bars';
import type { DeploymentSpec } from '../../domain/deployment/spec';
import { sleep, withTimeout } from '../../harness/async';
import { WorkerSupervisor } from '../../harness/processes/worker-supervisor';
import { privateStack } from '../../harness/stack';
import { connectTemporal } from '../../platform/temporal';
import type { ReplayClockSpec } from '../../workflows/deployment/messages';
import { cycleBreakdown, type CycleBreakdown } from './history-breakdown';
import { wakeBreakdown, type WakeBreakdown } from './wake-breakdown';
import { scrapeMetrics, temporalWork, type TemporalWork } from '../../harness/temporal-metrics';
import { between, CpuSampler, type CpuUsage } from '../../harness/processes/cpu-sampler';
import { deploymentBars, storeReplayBars, type ReplaySession, type ReplaySource } from './replay-bars';
import { cpuPerDeploymentClose, fmtCpu, sampleAt, stackClassifier, withOthers, type CpuPerDeploymentClose } from './runtime-cpu';
import { ACCOUNT, inParallel, startDeployments, stopDeployments, type WorkflowType } from './runtime-deployments';
import { ordersPending, tickFigures, windowFigures, type TickFigures, type WindowFigures } from './runtime-figures';
import type { RuntimeOptions } from './runtime-options';
import { spawnCpuWorker, stopChild, waitForWorkers } from './runtime-processes';
import { enablePgStats, PG_STATS_SETTINGS, pgStatsLines, readPgStats, resetPgStats, type PgStatsSummary } from '../../harness/stack/pg-stats';
import { countCyclesAt, cyclesWithOrders } from './runtime-sql';

/**
 * This benchmark's own servers: benchStack's shared .local/bench would be stopped and restarted under it by another
 * benchmark started meanwhile (the next start on a data dir cleans up after whatever runs there).
 */
const STACK_DIR = path.resolve(__dirname, '..', '..', '.local', 'bench-runtime');
const LOG_DIR = path.join(STACK_DIR, 'logs');
/** How long after a bar close a cycle may still be recorded before the round gives up on it (then it is missed). */
const TICK_GRACE_MS = 58_000;
/** The bars' period (1-minute bars replayed at speed 1). */
const BAR_MS = 60_000;
/** CPU windows start this long before each close, so a close's burst is all in its own window. */
const WINDOW_LEAD_MS = 100;

export interface RoundSetup {
  opts: RuntimeOptions;
  bundleDir: string;
  /**
   * What runs per deployment: the product's runtime, or the floor workflow of bench/runtime-floor-workflow.ts (its
   * bundle must be in bundleDir), which only wakes at each close and records one audit row
   */
  workflowType?: WorkflowType;
  /** spec.evaluation of the round's deployments (undefined for the floor: no evaluator may take them) */
  evaluation?: DeploymentSpec['evaluation'];
  source: ReplaySource;
  replay: ReplaySession;
  log(m: string): void;
}

export type RoundResult = WindowFigures & {
  deployments: number;
  workflowType: WorkflowType;
  /** who evaluated the closes: 'floor' for the floor workflow */
  evaluation: 'deployment' | 'batch' | 'floor';
  /**
   * CPU ms of every stack process (dev server, both workers, Postgres with all its backends, Redis, the paper
   * broker, this process) over the measured closes' whole bar periods, per deployment and close (runtime-cpu.ts)
   */
  cpuMsPerDeploymentClose: number | null;
  cpuPerDeploymentClose?: CpuPerDeploymentClose;
  measuredBarCloses: number;
  /** how long creating the N deployments took */
  startSeconds: number;
  perTick: Array<TickFigures & { cpu?: CpuUsage }>;
  /** CPU over the measured window (the bar periods of the measured closes), cores per group */
  cpu?: CpuUsage;
  breakdown?: CycleBreakdown;
  /** batch evaluation: where an order wake's time goes (bench/lib/wake-breakdown.ts) */
  wakes?: WakeBreakdown;
  /** `--temporal-metrics=on`: the dev server's persistence requests and task matching over the measured closes */
  temporal?: TemporalWork;
  stoppedCleanly: number;
  loadAverage: { before: number[]; after: number[] };
  workerEnv: Record<string, string>;
  /** --pg-stats=on: Postgres' statements over the measured closes (harness/stack/pg-stats.ts) */
  pgStats?: PgStatsSummary;
};

const fmtMs = (x: number | null) => (x === null ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

export async function runRound(n: number, setup: RoundSetup): Promise<RoundResult> {
  const { opts, replay, log } = setup;
  const loadBefore = load();
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await withTimeout('cleanup step', 120_000, c()).catch((e: Error) => log(`cleanup: ${e.message}`));
  };
  try {
    const pgStatsOn = opts.pgStats === 'on';
    if (pgStatsOn && process.env.DATABASE_URL) throw new Error('--pg-stats=on needs the private Postgres: unset DATABASE_URL');
    const stack = await privateStack({
      dir: STACK_DIR, dbPrefix: 'bench_runtime', temporal: true, redis: true, temporalMetrics: opts.temporalMetrics === 'on',
      ...(pgStatsOn ? { postgresSettings: PG_STATS_SETTINGS } : {}),
    });
    cleanups.push(() => stack.stop());
    if (pgStatsOn) await enablePgStats(stack.DATABASE_URL);
    const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 8 });
    // pool.end() resolves before its sockets are closed, so dropping the database next can kill one that is still closing
    pool.on('error', (err) => log(`postgres idle client: ${err.message}`));
    cleanups.push(() => pool.end());
    const redis = new Redis(stack.REDIS_URL);
    redis.on('error', (err: Error) => log(`redis: ${err.message}`));
    cleanups.push(async () => redis.disconnect());
    const { client, connection } = await connectTemporal({ TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default' });
    cleanups.push(() => connection.close());

    const symbols = Array.from({ length: n }, (_, i) => `RT${i}`);
    const bars = new Map<string, BarColumns>(symbols.map((s, i) => [s, deploymentBars(setup.source, replay.closes, i)]));
    await storeReplayBars(pool, opts.barCache === 'redis' ? redis : undefined, bars);
    log(`stack up, ${n} symbols x ${replay.closes.length} bars stored (${opts.barCache === 'redis' ? 'Postgres and the Redis cache' : 'Postgres only'})`);

    const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account: ACCOUNT, initialCash: 1e9 });
    cleanups.push(() => paper.stop());
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production',
      DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
      WORKFLOW_BUNDLE_DIR: setup.bundleDir, PAPER_BROKER_URL: paper.url, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '5000', SHUTDOWN_FORCE_MS: '8000',
      ...opts.workerEnv,
    };
    const cpuWorker = spawnCpuWorker(env, LOG_DIR);
    cleanups.push(() => stopChild(cpuWorker));
    const supervisor = new WorkerSupervisor(env, opts.ioWorkers, () => ({}), log, { logDir: LOG_DIR });
    cleanups.push(() => supervisor.stop());
    supervisor.start();
    await waitForWorkers(redis, opts.ioWorkers, Date.now() + 90_000);

    const sampler = new CpuSampler(await stackClassifier({ pool, redis, temporalAddress: stack.TEMPORAL_ADDRESS, paperPid: paper.pid, cpuWorkerPid: cpuWorker.pid }));

    // One clock for all: the data anchor is reached a little after the last create is expected to be done.
    const wallStartMs = Date.now() + 5_000 + n * 40;
    const clock: ReplayClockSpec = { dataStartMs: replay.anchorMs, wallStartMs, speed: 1 };
    const wallOf = (barCloseMs: number) => wallStartMs + (barCloseMs - replay.anchorMs);
    const t0 = Date.now();
    const workflowType = setup.workflowType ?? 'deploymentWorkflow';
    const deployments = await startDeployments({ pool, client, symbols, clock, settleMs: opts.settleMs, workflowType, evaluation: setup.evaluation, log });
    const startedAt = Date.now();
    const startSeconds = Math.round((startedAt - t0) / 100) / 10;
    // Whatever happens from here on, no workflow is left running.
    cleanups.push(() => inParallel(deployments, 16, (d) => d.handle.terminate('runtime bench cleanup').catch(() => undefined)));

    // The warm-up close is the first one after every deployment has had time to reach its first timer.
    const first = replay.closes.findIndex((c) => wallOf(c) > startedAt + 3_000 + n * 10);
    const ticks = replay.closes.slice(first, first + 1 + opts.minutes);
    if (first < 0 || ticks.length < 1 + opts.minutes) throw new Error('the replayed session has too few bar closes left for this window');
    const measured = ticks.slice(1);
    const last = measured[measured.length - 1]!;
    log(`${n} deployments created in ${startSeconds} s; warm-up close in ${Math.round((wallOf(ticks[0]!) - Date.now()) / 1000)} s, then ${measured.length} measured closes`);
    // CPU samples just before each close (the warm-up's too) and the close after the last: the measured closes' windows are whole bar periods.
    const boundaries = sampleAt(() => sampler.sample(), [...ticks, last + BAR_MS].map((c) => wallOf(c) - WINDOW_LEAD_MS));
    cleanups.push(async () => boundaries.cancel());
    // The server's counters at the measured window's two ends (the CPU window's).
    const metricsUrl = stack.temporalMetricsUrl;
    const metricsAt = metricsUrl ? [measured[0]!, last + BAR_MS].map((c) => sleep(Math.max(0, wallOf(c) - WINDOW_LEAD_MS - Date.now())).then(() => scrapeMetrics(metricsUrl))) : [];

    const perTick: RoundResult['perTick'] = [];
    for (const [k, close] of ticks.entries()) {
      const wall = wallOf(close);
      await sleep(Math.max(0, wall - Date.now()));
      for (let recorded = 0; recorded < n && Date.now() < wall + TICK_GRACE_MS; ) {
        await sleep(2_000);
        recorded = await countCyclesAt(pool, close);
      }
      let rows = await cyclesWithOrders(pool, close, close);
      while (ordersPending(rows) && Date.now() < wall + TICK_GRACE_MS) {
        await sleep(1_000);
        rows = await cyclesWithOrders(pool, close, close);
      }
      const t = tickFigures(rows, close, wall, k === 0);
      // CPU from the close to when its last cycle and order were seen (the polling above)
      const [closeSample, seenSample] = [await boundaries.at[k], sampler.sample()];
      const cpu = withOthers(closeSample && seenSample ? between(closeSample, seenSample) : undefined);
      perTick.push({ ...t, cpu });
      log(
        `${k === 0 ? 'warm-up' : `tick ${k}/${measured.length}`} (bar close ${t.barClose.slice(11, 16)}Z data): ${t.cycles}/${n} cycles, recorded p50 ${fmtMs(t.recorded.p50Ms)} p99 ${fmtMs(t.recorded.p99Ms)} max ${fmtMs(t.recorded.maxMs)}; ` +
          `${t.orders} orders, accepted p50 ${fmtMs(t.accepted.p50Ms)} p99 ${fmtMs(t.accepted.p99Ms)}; burst ${fmtMs(t.burstMs)}, ${fmtCpu(cpu)}; load ${os.loadavg()[0]!.toFixed(2)}`,
      );
      // the warm-up close is done (its cycles and orders seen): count only the measured closes from here
      if (k === 0 && pgStatsOn) await resetPgStats(stack.DATABASE_URL);
    }
    // Cycles of the last close still running at the end of its grace get until 90 s before they count as missed.
    while (Date.now() < wallOf(last) + 90_000 && (await countCyclesAt(pool, last)) < n) await sleep(2_000);
    // The last CPU window ends at the next close: wait for it before anything else (stopping) runs.
    const samples = await Promise.all(boundaries.at.slice(1));
    const cpuPer = cpuPerDeploymentClose(samples, n);
    const [metricsFrom, metricsTo] = await Promise.all(metricsAt);
    const temporal = metricsFrom && metricsTo ? temporalWork(metricsFrom, metricsTo, measured.length) : undefined;
    if (temporal) {
      log(
        `temporal per close: ${temporal.persistenceRequestsPerClose} persistence requests, ${temporal.persistenceMsPerClose} ms in them (${temporal.byOperation.map((o) => `${o.operation} ${o.perClose}`).join(', ')}); ` +
          `requests ${temporal.requestsPerClose.map((o) => `${o.operation} ${o.perClose}`).join(', ')}; ` +
          `tasks to a waiting poll: ${Object.entries(temporal.syncMatch).map(([t, m]) => `${t} ${m.sync}/${m.polled}`).join(', ')}`,
      );
    }
    const [from, to] = [samples[0], samples[samples.length - 1]];
    const windowCpu = withOthers(from && to ? between(from, to) : undefined);
    if (cpuPer) {
      log(
        `CPU per deployment-close ${cpuPer.total} ms (by close ${cpuPer.perClose.join(', ')}; ${Object.entries(cpuPer.byGroup).map(([g, ms]) => `${g} ${ms}`).join(', ')}; ` +
          `not counted: harness ${cpuPer.notCounted.harness}, the machine's other busy time ${cpuPer.notCounted.otherOnMachine} (other people's processes, interrupts); steal ${cpuPer.stealCores} cores)`,
      );
    }

    const pgStats = pgStatsOn ? await readPgStats(stack.DATABASE_URL) : undefined;
    if (pgStats) for (const line of pgStatsLines(pgStats, measured.length)) log(line);

    // only this round's N deployments count (a create that timed out on the client may still have started one)
    const ids = new Set(deployments.map((d) => d.id));
    const figures = windowFigures((await cyclesWithOrders(pool, measured[0]!, last)).filter((r) => ids.has(r.deployment_id)), n, measured.length, wallOf);

    // Stop every deployment (the product's stop command), then read the sampled histories, now complete.
    const stoppedCleanly = await stopDeployments(pool, client, deployments);
    log(`deployments stopped (${stoppedCleanly}/${n} completed)`);

    let breakdown: CycleBreakdown | undefined;
    // The breakdown reads a cycle as timer -> tasks -> recordCycle in the deployment's history: only per-deployment evaluation has that shape.
    if (opts.histories > 0 && workflowType === 'deploymentWorkflow' && setup.evaluation !== 'batch') {
      const step = Math.max(1, Math.floor(n / opts.histories));
      const sample = deployments.filter((_, i) => i % step === 0).slice(0, opts.histories).map((d) => d.handle.workflowId);
      breakdown = await cycleBreakdown(client, sample, measured, wallOf);
    }
    let wakes: WakeBreakdown | undefined;
    if (opts.histories > 0 && workflowType === 'deploymentWorkflow' && setup.evaluation === 'batch') {
      const ordered = new Set((await cyclesWithOrders(pool, measured[0]!, last)).filter((r) => r.accepted_ms !== null && ids.has(r.deployment_id)).map((r) => r.deployment_id));
      const sample = deployments.filter((d) => ordered.has(d.id)).slice(0, opts.histories).map((d) => d.handle.workflowId);
      const [group] = (await pool.query<{ workflow_id: string }>('SELECT workflow_id FROM evaluation_groups LIMIT 1')).rows;
      if (group) {
        wakes = await wakeBreakdown(client, group.workflow_id, sample, measured, wallOf);
        const f = (s: { p50Ms: number | null; p99Ms: number | null }) => `${fmtMs(s.p50Ms)}/${fmtMs(s.p99Ms)}`;
        log(
          `order wakes (p50/p99, ${wakes.wakes} sampled): evaluation started ${f(wakes.evaluationStartedMs)}, evaluated ${f(wakes.evaluatedMs)}, wakes sent ${f(wakes.wakesSentMs)}, taken by the server ${f(wakes.arrivedMs)} after the close (${wakes.bySignal} as signals); ` +
            `task queued ${f(wakes.taskQueuedMs)}; ${Object.entries(wakes.steps).map(([k, v]) => `${k} ${f(v)}`).join(', ')}; task completed ${f(wakes.taskCompletedMs)} after the close`,
        );
      }
    }

    return {
      deployments: n,
      workflowType,
      evaluation: workflowType === 'runtimeFloorWorkflow' ? 'floor' : (setup.evaluation ?? 'deployment'),
      ...figures,
      cpuMsPerDeploymentClose: cpuPer?.total ?? null,
      cpuPerDeploymentClose: cpuPer,
      measuredBarCloses: measured.length,
      startSeconds,
      perTick,
      cpu: windowCpu,
      breakdown,
      wakes,
      temporal,
      stoppedCleanly,
      loadAverage: { before: loadBefore, after: load() },
      workerEnv: opts.workerEnv,
      ...(pgStats ? { pgStats } : {}),
    };
  } finally {
    await cleanup();
  }
}
