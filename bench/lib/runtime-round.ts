/**
 * One round of the runtime benchmark: N deployments on a fresh private stack (Postgres, Redis, Temporal dev
 * server), the paper broker, the IO worker process(es) under the chaos supervisor and a CPU worker process; each
 * deployment is started as POST /v1/deployments starts it (rows, audit, the workflow with the same options) with
 * one shared replay clock at speed 1, so every deployment sees each bar close at the same wall instant, as live
 * deployments on one exchange do. After one warm-up close it measures `minutes` closes, then stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { startPaperBroker } from '../../brokers/paper/start';
import type { BarColumns } from '../../domain/bars';
import { parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment/spec';
import { ACCEPTED_STATES } from '../../domain/orders';
import { sleep, withTimeout } from '../../harness/async';
import { WorkerSupervisor } from '../../harness/processes/worker-supervisor';
import { privateStack, type PrivateStack } from '../../harness/stack';
import { listLiveWorkers } from '../../platform/heartbeat';
import { connectTemporal } from '../../platform/temporal';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import type { ReplayClockSpec } from '../../workflows/deployment/messages';
import type { deploymentWorkflow } from '../../workflows/deployment/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { cycleBreakdown, type CycleBreakdown } from './history-breakdown';
import { summarize, type LatencySummary } from './percentiles';
import { CpuSampler, type CpuUsage } from './process-cpu';
import { deploymentBars, storeReplayBars, type ReplaySession, type ReplaySource } from './replay-bars';
import type { RuntimeOptions } from './runtime-options';
import { backendPid, countCyclesAt, cyclesWithOrders, type CycleOrderRow } from './runtime-sql';

const ROOT = path.resolve(__dirname, '..', '..');
/**
 * This benchmark's own servers: benchStack's shared .local/bench would be stopped and restarted under it by another
 * benchmark started meanwhile (the next start on a data dir cleans up after whatever runs there).
 */
const STACK_DIR = path.join(ROOT, '.local', 'bench-runtime');
const LOG_DIR = path.join(STACK_DIR, 'logs');
const ACCOUNT = 'bench-runtime';
/** Ledger states of an order the broker accepted. */
const ACCEPTED = new Set<string>(ACCEPTED_STATES);
/** How long after a bar close a cycle may still be recorded before the round gives up on it (then it is missed). */
const TICK_GRACE_MS = 58_000;

export interface RoundSetup {
  opts: RuntimeOptions;
  bundleDir: string;
  /**
   * What runs per deployment: the product's runtime, or the floor workflow of bench/runtime-floor-workflow.ts (its
   * bundle must be in bundleDir), which only wakes at each close and records one audit row
   */
  workflowType?: 'deploymentWorkflow' | 'runtimeFloorWorkflow';
  source: ReplaySource;
  replay: ReplaySession;
  log(m: string): void;
}

export interface TickFigures {
  barClose: string;
  warmUp: boolean;
  cycles: number;
  recorded: LatencySummary;
  orders: number;
  accepted: LatencySummary;
  /** bar close to the last cycle recorded for it */
  burstMs: number | null;
  /** CPU during that burst */
  cpu?: CpuUsage;
}

export interface RoundResult {
  deployments: number;
  workflowType: 'deploymentWorkflow' | 'runtimeFloorWorkflow';
  /** bar close (wall) to the paper broker accepting the order (paper_orders.created_at) */
  p50Ms: number | null;
  p99Ms: number | null;
  /** expected bar closes in the window x deployments, minus cycles recorded for them (deployment_cycles) */
  missedTicks: number;
  /** bar close (wall) to the cycle recorded (deployment_cycles.created_at), every cycle, orders or not */
  cycleP50Ms: number | null;
  cycleP99Ms: number | null;
  /** orders the broker accepted in the window */
  orders: number;
  /** cycles run in the window */
  ticks: number;
  expectedTicks: number;
  /** share of cycles that placed an order */
  orderTickShare: number;
  /** cycles recorded more than a minute after their bar close (the next bar had closed already) */
  lateTicks: number;
  ordersNotAccepted: number;
  /** cycles by action (skips and risk rejections by reason) */
  actions: Record<string, number>;
  order: LatencySummary;
  cycle: LatencySummary;
  measuredBarCloses: number;
  /** how long starting the N workflows took */
  startSeconds: number;
  perTick: TickFigures[];
  /** CPU over the measured window */
  cpu?: CpuUsage;
  /**
   * CPU ms per cycle by component over the measured bursts (bar close to last cycle recorded, widened to the 1 s
   * samples), other people's processes excluded; `total` x N / cores is the shortest possible burst on this machine
   */
  cpuMsPerCycle?: Record<string, number>;
  breakdown?: CycleBreakdown;
  stoppedCleanly: number;
  loadAverage: { before: number[]; after: number[] };
  workerEnv: Record<string, string>;
}

function deploymentSpec(symbol: string, settleMs: number): DeploymentSpec {
  return parseDeploymentSpec({
    strategy: 'sma-cross',
    // close against its 2-bar SMA: an order on about a third of 1-minute closes of the shared index-future bars
    params: { period: 2 },
    symbols: [symbol],
    timeframe: '1m',
    accountId: ACCOUNT,
    broker: 'paper',
    quantity: 1,
    allowShort: false,
    calendar: 'XNYS',
    settleDelayMs: settleMs,
    // limits that never block these orders: one unit of one symbol per deployment, every deployment in one account
    riskLimits: { maxPositionQty: 10, maxExposure: 1e6, maxOpenPositions: 10_000, dailyLossLimit: 1e6 },
  });
}

/** Creates the deployment as the API does (services/deployments.ts: rows, audit, the workflow with the same options), on the round's shared clock. */
async function startDeployment(pool: Pool, client: Client, symbol: string, clock: ReplayClockSpec, settleMs: number, workflowType: RoundResult['workflowType']): Promise<WorkflowHandle<typeof deploymentWorkflow>> {
  const replay = { from: new Date(clock.dataStartMs).toISOString(), speed: clock.speed, wallStartMs: clock.wallStartMs };
  const created = await createDeployment({ db: pool, temporal: client }, { spec: deploymentSpec(symbol, settleMs), by: 'bench', name: `runtime bench ${symbol}`, replay }, { workflowType });
  return created.handle;
}

/** Runs `fn` over `items`, `concurrency` at a time. */
async function inParallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
    }),
  );
  return out;
}

function spawnCpuWorker(env: Record<string, string>): ChildProcess {
  mkdirSync(LOG_DIR, { recursive: true });
  const log = createWriteStream(path.join(LOG_DIR, 'cpu-worker.log'), { flags: 'a' });
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

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}

async function waitForWorkers(redis: Redis, io: number, deadlineMs: number): Promise<void> {
  for (;;) {
    const live = await listLiveWorkers(redis);
    const count = (q: string) => live.filter((w) => w.queue === q).length;
    if (count(TASK_QUEUES.io) >= io && count(TASK_QUEUES.cpu) >= 1) return;
    if (Date.now() > deadlineMs) throw new Error(`workers did not report a heartbeat in time (io ${count(TASK_QUEUES.io)}/${io}, cpu ${count(TASK_QUEUES.cpu)}/1)`);
    await sleep(250);
  }
}

/** Which stack process a pid is, for the CPU sampler. */
async function classifier(stack: PrivateStack, pool: Pool, redis: Redis, paperPid: number, cpuWorkerPid: number | undefined) {
  // The parent of our backend is the postmaster (unless the server is on another host: then Postgres counts as "other").
  let postmaster: number | undefined;
  try {
    const stat = readFileSync(`/proc/${await backendPid(pool)}/stat`, 'utf8');
    postmaster = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    postmaster = undefined;
  }
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0);
  const temporalPort = stack.TEMPORAL_ADDRESS.split(':')[1];
  return (p: { pid: number; ppid: number; cmdline: string }) => {
    if (postmaster && p.pid === postmaster) return { group: 'postgres', withChildren: true };
    if (postmaster && p.ppid === postmaster) return { group: 'postgres' };
    if (p.pid === redisPid) return { group: 'redis' };
    if (p.cmdline.includes('start-dev') && p.cmdline.includes(`--port ${temporalPort} `)) return { group: 'temporal' };
    if (p.pid === paperPid) return { group: 'paperBroker' };
    if (p.pid === cpuWorkerPid) return { group: 'cpuWorker' };
    if (p.ppid === process.pid && p.cmdline.includes('io-worker.ts')) return { group: 'ioWorkers' };
    if (p.pid === process.pid) return { group: 'bench' };
    return undefined;
  };
}

function withOthers(u: CpuUsage | undefined): CpuUsage | undefined {
  if (!u) return undefined;
  const known = Object.values(u.cores).reduce((a, b) => a + b, 0);
  return { ...u, cores: { ...u.cores, otherProcesses: Math.max(0, Math.round((u.machineCores - known) * 100) / 100) } };
}

const fmtMs = (x: number | null) => (x === null ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);
const fmtCpu = (u?: CpuUsage) =>
  u
    ? `cpu ${u.machineCores.toFixed(2)} cores (${Object.entries(u.cores)
        .filter(([, v]) => v >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')})`
    : 'cpu n/a';

export async function runRound(n: number, setup: RoundSetup): Promise<RoundResult> {
  const { opts, replay, log } = setup;
  const loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await withTimeout('cleanup step', 60_000, c()).catch((e: Error) => log(`cleanup: ${e.message}`));
  };
  try {
    const stack = await privateStack({ dir: STACK_DIR, dbPrefix: 'bench_runtime', temporal: true, redis: true });
    cleanups.push(() => stack.stop());
    const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
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
    const cpuWorker = spawnCpuWorker(env);
    cleanups.push(() => stopChild(cpuWorker));
    const supervisor = new WorkerSupervisor(env, opts.ioWorkers, () => ({}), log, { logDir: LOG_DIR });
    cleanups.push(() => supervisor.stop());
    supervisor.start();
    await waitForWorkers(redis, opts.ioWorkers, Date.now() + 90_000);

    const sampler = new CpuSampler(await classifier(stack, pool, redis, paper.pid, cpuWorker.pid));
    cleanups.push(async () => sampler.stop());

    // One clock for all: the data anchor is reached a little after the last start is expected to be done.
    const wallStartMs = Date.now() + 5_000 + n * 40;
    const clock: ReplayClockSpec = { dataStartMs: replay.anchorMs, wallStartMs, speed: 1 };
    const wallOf = (barCloseMs: number) => wallStartMs + (barCloseMs - replay.anchorMs);
    const t0 = Date.now();
    const workflowType = setup.workflowType ?? 'deploymentWorkflow';
    const handles = await inParallel(symbols, 8, (s) => startDeployment(pool, client, s, clock, opts.settleMs, workflowType));
    const startedAt = Date.now();
    const startSeconds = Math.round((startedAt - t0) / 100) / 10;
    // Whatever happens from here on, no workflow is left running.
    cleanups.push(() => inParallel(handles, 16, (h) => h.terminate('runtime bench cleanup').catch(() => undefined)));

    // The warm-up close is the first one after every deployment has had time to reach its first timer.
    const first = replay.closes.findIndex((c) => wallOf(c) > startedAt + 3_000 + n * 10);
    const ticks = replay.closes.slice(first, first + 1 + opts.minutes);
    if (first < 0 || ticks.length < 1 + opts.minutes) throw new Error('the replayed session has too few bar closes left for this window');
    const measured = ticks.slice(1);
    log(`${n} deployments started in ${startSeconds} s; warm-up close in ${Math.round((wallOf(ticks[0]!) - Date.now()) / 1000)} s, then ${measured.length} measured closes`);
    sampler.start();

    const perTick: TickFigures[] = [];
    for (const [k, close] of ticks.entries()) {
      const wall = wallOf(close);
      await sleep(Math.max(0, wall - Date.now()));
      let recorded = 0;
      while (Date.now() < wall + TICK_GRACE_MS) {
        await sleep(2_000);
        recorded = await countCyclesAt(pool, close);
        if (recorded >= n) break;
      }
      const rows = await cyclesWithOrders(pool, close, close);
      const recordedMs = rows.map((r) => r.recorded_ms - wall);
      const accepted = rows.filter((r) => r.order_state && ACCEPTED.has(r.order_state) && r.accepted_ms !== null);
      const burstMs = recordedMs.length ? Math.round(Math.max(...recordedMs)) : null;
      const t: TickFigures = {
        barClose: new Date(close).toISOString(),
        warmUp: k === 0,
        cycles: new Set(rows.map((r) => r.deployment_id)).size,
        recorded: summarize(recordedMs),
        orders: accepted.length,
        accepted: summarize(accepted.map((r) => r.accepted_ms! - wall)),
        burstMs,
        cpu: withOthers(burstMs !== null ? sampler.usage(wall, wall + burstMs) : undefined),
      };
      perTick.push(t);
      log(
        `${k === 0 ? 'warm-up' : `tick ${k}/${measured.length}`} (bar close ${t.barClose.slice(11, 16)}Z data): ${t.cycles}/${n} cycles, recorded p50 ${fmtMs(t.recorded.p50Ms)} p99 ${fmtMs(t.recorded.p99Ms)} max ${fmtMs(t.recorded.maxMs)}; ` +
          `${t.orders} orders, accepted p50 ${fmtMs(t.accepted.p50Ms)} p99 ${fmtMs(t.accepted.p99Ms)}; burst ${fmtMs(burstMs)}, ${fmtCpu(t.cpu)}; load ${os.loadavg()[0]!.toFixed(2)}`,
      );
    }
    // Cycles of the last close still running at the end of its grace get until 90 s before they count as missed.
    const last = measured[measured.length - 1]!;
    while (Date.now() < wallOf(last) + 90_000 && (await countCyclesAt(pool, last)) < n) await sleep(2_000);
    const windowCpu = withOthers(sampler.usage(wallOf(measured[0]!), Date.now()));

    const measuredTicks = perTick.filter((t) => !t.warmUp && t.cpu && t.cycles > 0);
    const cyclesInBursts = measuredTicks.reduce((a, t) => a + t.cycles, 0);
    let cpuMsPerCycle: Record<string, number> | undefined;
    if (cyclesInBursts > 0) {
      cpuMsPerCycle = {};
      for (const t of measuredTicks) {
        for (const [g, cores] of Object.entries(t.cpu!.cores)) {
          if (g !== 'otherProcesses') cpuMsPerCycle[g] = (cpuMsPerCycle[g] ?? 0) + (cores * t.cpu!.seconds * 1000) / cyclesInBursts;
        }
      }
      cpuMsPerCycle.total = Object.values(cpuMsPerCycle).reduce((a, b) => a + b, 0);
      for (const g of Object.keys(cpuMsPerCycle)) cpuMsPerCycle[g] = Math.round(cpuMsPerCycle[g]! * 10) / 10;
    }

    const rows: CycleOrderRow[] = await cyclesWithOrders(pool, measured[0]!, last);
    const byCycle = new Map<string, CycleOrderRow>();
    for (const r of rows) byCycle.set(`${r.deployment_id}@${r.bar_close_ms}`, r);
    const cycles = [...byCycle.values()];
    const cycleLatencies = cycles.map((r) => r.recorded_ms - wallOf(r.bar_close_ms));
    const orderRows = rows.filter((r) => r.order_state !== null);
    const acceptedRows = orderRows.filter((r) => ACCEPTED.has(r.order_state!) && r.accepted_ms !== null);
    const order = summarize(acceptedRows.map((r) => r.accepted_ms! - wallOf(r.bar_close_ms)));
    const cycle = summarize(cycleLatencies);
    const actions: Record<string, number> = {};
    for (const r of cycles) {
      const key = r.action === 'skip' || r.action === 'rejected' ? `${r.action}:${r.reason_kind ?? '?'}` : r.action;
      actions[key] = (actions[key] ?? 0) + 1;
    }
    const expectedTicks = n * measured.length;

    // Stop every deployment (the product's stop command: recorded, then sent as the API sends it), then read the sampled histories, now complete.
    const stopped = await inParallel(handles, 16, async (h) => {
      await withTimeout('stop command', 30_000, issueDeploymentCommand({ db: pool, temporal: client }, { deploymentId: h.workflowId.replace(/^deployment-/, ''), kind: 'stop', by: 'bench' }));
      return withTimeout(`${h.workflowId} to stop`, 120_000, h.result()).then(
        () => true,
        () => false,
      );
    });
    const stoppedCleanly = stopped.filter(Boolean).length;
    log(`deployments stopped (${stoppedCleanly}/${n} completed)`);

    let breakdown: CycleBreakdown | undefined;
    if (opts.histories > 0 && workflowType === 'deploymentWorkflow') {
      const step = Math.max(1, Math.floor(n / opts.histories));
      const sample = handles.filter((_, i) => i % step === 0).slice(0, opts.histories).map((h) => h.workflowId);
      breakdown = await cycleBreakdown(client, sample, measured, wallOf);
    }

    return {
      deployments: n,
      workflowType,
      p50Ms: order.p50Ms,
      p99Ms: order.p99Ms,
      missedTicks: expectedTicks - cycles.length,
      cycleP50Ms: cycle.p50Ms,
      cycleP99Ms: cycle.p99Ms,
      orders: acceptedRows.length,
      ticks: cycles.length,
      expectedTicks,
      orderTickShare: cycles.length ? Math.round((orderRows.length / cycles.length) * 1000) / 1000 : 0,
      lateTicks: cycleLatencies.filter((ms) => ms > 60_000).length,
      ordersNotAccepted: orderRows.length - acceptedRows.length,
      actions,
      order,
      cycle,
      measuredBarCloses: measured.length,
      startSeconds,
      perTick,
      cpu: windowCpu,
      cpuMsPerCycle,
      breakdown,
      stoppedCleanly,
      loadAverage: { before: loadBefore, after: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      workerEnv: opts.workerEnv,
    };
  } finally {
    await cleanup();
  }
}
