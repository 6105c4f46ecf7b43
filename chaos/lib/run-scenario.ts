/**
 * The shared frame of every chaos scenario: a fresh stack, the paper broker, supervised IO worker processes,
 * N replay-clock deployments (1-minute bars of a past NYSE session at 60x: one bar close per wall second),
 * the scenario's chaos phase, then a calm drain (faults off, stop signals, final sync) and the verification
 * of the reliability note's pass figures (§6: duplicate orders, lost fills, stuck workflows).
 * Scenarios that fault Postgres or Redis get servers of their own (`ownServers`) and may ask for the real API
 * and a CPU worker (`api`), whose /health is polled throughout the chaos phase.
 * The deployments are batch-evaluated by default (`evaluation`: one evaluator workflow decides every close of the
 * group, each deployment's workflow is woken only to act), the design going forward; 'deployment' runs them the
 * old way, each evaluating its own closes.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { createOrderActivities } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin, type FaultSettings } from '../../brokers/paper/admin-client';
import { allocateBars, appendBar } from '../../domain/bars';
import { currentOrNextSession, sessionBarCloses } from '../../domain/calendar';
import { parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment/spec';
import { UNRESOLVED_STATES } from '../../domain/orders';
import { withTimeout } from '../../harness/async';
import { buildBundles } from '../../harness/bundles';
import { storeBars } from '../../harness/fixtures/bars';
import { REPO_ROOT } from '../../harness/paths';
import { WorkerSupervisor, type SupervisorStats } from '../../harness/processes/worker-supervisor';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { OperationError } from '../../services/errors';
import type { deploymentWorkflow } from '../../workflows/deployment/workflow';
import { ApiMonitor, ApiProcess } from './api';
import { PaperBrokerSupervisor } from './paper';
import { evaluatorFigures, evaluatorWorkflowIds, terminateEvaluators } from './evaluators';
import { chaosStack, CHAOS_DIR, managedStack, type ChaosStack } from './stack';

/** How the harness's deployments evaluate their bar closes (spec.evaluation). */
export type ChaosEvaluation = NonNullable<DeploymentSpec['evaluation']>;

export interface Deployment {
  id: string;
  workflowId: string;
  symbol: string;
  handle: WorkflowHandle<typeof deploymentWorkflow>;
}

export interface ScenarioContext {
  stack: ChaosStack;
  pool: Pool;
  /** the harness's Temporal client (commands go through the services with it) */
  client: Client;
  paper: PaperBrokerSupervisor;
  admin: PaperBrokerAdmin;
  account: string;
  supervisor: WorkerSupervisor;
  /** the API process and what its /health and a data route answered (scenarios with `api`) */
  api?: { process: ApiProcess; monitor: ApiMonitor };
  deployments: Deployment[];
  /** the replayed feed's clock (epoch ms of data time) */
  dataNow(): number;
  spec(symbol: string): DeploymentSpec;
  cycles(): Promise<number>;
  orders(): Promise<number>;
  log(m: string): void;
  /** a seeded PRNG for the harness's own choices */
  rng(): number;
}

export interface ScenarioDef {
  name: string;
  deployments: number;
  workers: number;
  /** a Postgres and a Redis of the scenario's own, which it may stop, kill and start (ctx.stack.postgres/redis) */
  ownServers?: boolean;
  /** also run the API (a child process, polled by ctx.api.monitor) and one CPU worker, so /health can be ok */
  api?: boolean;
  /** extra env of the n-th worker start (crash points) */
  workerEnv?: (n: number, stats: SupervisorStats) => Record<string, string>;
  /** paper broker faults during the chaos phase */
  faults?: FaultSettings;
  /** the chaos phase; resolves with scenario figures (the harness then drains and verifies) */
  drive(ctx: ScenarioContext): Promise<Record<string, unknown>>;
  /** scenario-specific checks after the drain; `passed: false` fails the scenario */
  verify?(ctx: ScenarioContext): Promise<{ figures: Record<string, unknown>; passed: boolean; why?: string[] }>;
  minCycles: number;
  minOrders?: number;
}

export interface ScenarioResult {
  scenario: string;
  passed: boolean;
  failures: string[];
  cycles: number;
  orders: number;
  duplicateOrders: number;
  lostFills: number;
  stuckWorkflows: number;
  [k: string]: unknown;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A past NYSE session (and the one before it for warm-up). */
function sessions() {
  const day = currentOrNextSession('XNYS', Date.UTC(2025, 2, 4, 12)); // Tue 2025-03-04
  let previous = day;
  for (let k = 1; previous.close > day.open; k++) previous = currentOrNextSession('XNYS', day.open - k * 86_400_000);
  return { day, previous };
}

/** 1-minute zig-zag bars (period 8 bars), so sma-cross (2, 5) crosses about every 4 bars. */
function zigzagBars(closes: number[], phase: number) {
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const k = (i + phase) % 8;
    const price = 100 + (k < 4 ? k : 8 - k) * 0.5 + i * 0.001;
    const open = i === 0 ? price : bars.close[i - 1]!;
    appendBar(bars, { ts: close - 60_000, open, high: Math.max(open, price) + 0.05, low: Math.min(open, price) - 0.05, close: price, volume: 1000 });
  });
  return bars;
}

export async function runScenario(def: ScenarioDef, opts: {
    log?: (m: string) => void;
    writeResult?: boolean;
    /** run on these servers (already migrated) instead of a fresh database */
    existingStack?: Omit<ChaosStack, 'stop'>;
    /** pre-built workflow bundles (io.js) instead of building them into .local/chaos/bundles */
    bundleDir?: string;
    /** where a scenario with `ownServers` keeps them (default .local/chaos/<scenario>) */
    serversDir?: string;
    /** how the deployments the harness creates evaluate their closes (default 'batch'); scenarios without any ignore it */
    evaluation?: ChaosEvaluation;
  } = {}): Promise<ScenarioResult> {
  const t0 = Date.now();
  const log = opts.log ?? ((m: string) => console.log(`[chaos ${def.name} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`));
  const cleanups: Array<() => Promise<unknown>> = [];
  const evaluation = def.deployments > 0 ? (opts.evaluation ?? 'batch') : undefined;
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await withTimeout('cleanup step', 30_000, c()).catch((e: Error) => log(`cleanup: ${e.message}`));
  };
  try {
    const stack = def.ownServers
      ? await managedStack({ dir: opts.serversDir ?? path.join(CHAOS_DIR, def.name), log, temporalAddress: opts.existingStack?.TEMPORAL_ADDRESS })
      : await chaosStack(log, opts.existingStack);
    cleanups.push(() => stack.stop());
    const bundleDir = opts.bundleDir ?? path.join(CHAOS_DIR, 'bundles');
    if (!opts.bundleDir) {
      await buildBundles(bundleDir);
      log('bundles built');
    }

    const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4, connectionTimeoutMillis: 5_000 });
    // Idle and checked-out clients see Postgres restarts as 'error' events: without listeners they would end this process.
    pool.on('error', () => undefined);
    pool.on('connect', (c) => c.on('error', () => undefined));
    cleanups.push(() => pool.end());
    const account = `chaos-${def.name}-${randomUUID().slice(0, 8)}`;
    // Each scenario's process output apart, so runs of different scenarios at the same time do not mix.
    const logDir = path.join(CHAOS_DIR, 'logs', def.name);
    const paper = await PaperBrokerSupervisor.start({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 }, log, logDir);
    cleanups.push(() => paper.stop());
    const admin = new PaperBrokerAdmin(paper.url);

    const connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
    cleanups.push(() => connection.close());
    const client = new Client({ connection });

    // Bars: the warm-up session and the replayed session, one symbol per deployment.
    const { day, previous } = sessions();
    const closes = [...sessionBarCloses(previous, '1m'), ...sessionBarCloses(day, '1m')];
    const tag = randomUUID().slice(0, 6).toUpperCase();
    const symbols = Array.from({ length: def.deployments }, (_, i) => `CH${def.name.toUpperCase()}${tag}${i}`);
    for (const [i, symbol] of symbols.entries()) await storeBars(pool, symbol, '1m', zigzagBars(closes, i % 8));
    const spec = (symbol: string) =>
      parseDeploymentSpec({
        strategy: 'sma-cross', params: { fast: 2, slow: 5 }, symbols: [symbol], timeframe: '1m', accountId: account, broker: 'paper',
        allowShort: false, calendar: 'XNYS', settleDelayMs: 200, riskLimits: { maxExposure: 1e6, maxPositionQty: 10 },
        ...(evaluation ? { evaluation } : {}),
      });

    const baseEnv = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production',
      DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
      WORKFLOW_BUNDLE_DIR: bundleDir, PAPER_BROKER_URL: paper.url, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '3000',
    };
    const supervisor = new WorkerSupervisor(baseEnv, def.workers, def.workerEnv ?? (() => ({})), log, { logDir });
    cleanups.push(() => supervisor.stop());
    supervisor.start();
    let cpuWorkers: WorkerSupervisor | undefined;
    let api: ScenarioContext['api'];
    if (def.api) {
      cpuWorkers = new WorkerSupervisor(baseEnv, 1, () => ({}), log, { kind: 'cpu', logDir });
      cleanups.push(() => cpuWorkers!.stop());
      cpuWorkers.start();
      const apiProcess = await ApiProcess.start(baseEnv, log, logDir);
      cleanups.push(() => apiProcess.stop());
      const monitor = new ApiMonitor(apiProcess);
      cleanups.push(() => monitor.stop());
      api = { process: apiProcess, monitor };
      log(`API ${apiProcess.url} (pid-supervised), 1 CPU worker`);
    }
    let faultsOn = !!def.faults;
    if (def.faults) await admin.setFaults(def.faults);
    paper.onRestart = async () => faultsOn && admin.setFaults(def.faults!);

    const deployments: Deployment[] = [];
    // One replay clock for all (as deployments on one exchange see each close together); created as the API creates
    // them (services/deployments.ts), continuing as new every 40 cycles so every scenario crosses that boundary too.
    const clock = { dataStartMs: day.open + 6 * 60_000, wallStartMs: Date.now(), speed: 60 };
    const replay = { from: new Date(clock.dataStartMs).toISOString(), speed: clock.speed, wallStartMs: clock.wallStartMs };
    for (const symbol of symbols) {
      const { id, workflowId, handle } = await createDeployment({ db: pool, temporal: client }, { spec: spec(symbol), by: 'chaos', name: `chaos ${def.name} ${symbol}`, replay, cyclesPerRun: 40 });
      deployments.push({ id, workflowId, symbol, handle });
    }
    // Whatever happens, no workflow is left running on a shared server.
    cleanups.push(() => Promise.allSettled(deployments.map((d) => d.handle.terminate('chaos cleanup'))));
    const ids = deployments.map((d) => d.id);
    const evaluators = await evaluatorWorkflowIds(pool, ids);
    cleanups.push(() => terminateEvaluators(client, evaluators));
    log(`${deployments.length} deployments (evaluation ${evaluation ?? 'none'}, ${evaluators.length} evaluator(s)), ${def.workers} worker process(es), paper broker ${paper.url}`);

    const cycles = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[])', [ids])).rows[0]!.n;
    const orders = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[])', [ids])).rows[0]!.n;
    const dataNow = () => clock.dataStartMs + (Date.now() - clock.wallStartMs) * clock.speed;
    const ctx: ScenarioContext = { stack, pool, client, paper, admin, account, supervisor, api, deployments, dataNow, spec, cycles, orders, log, rng: mulberry32(20250304) };

    const scenarioFigures = await def.drive(ctx);
    await api?.monitor.stop(); // the API's answers during the chaos phase only: the drain then stops everything on purpose
    log(`chaos phase over: ${await cycles()} cycles, ${await orders()} orders; draining`);

    // Drain calmly: no faults, no crash points, then stop every deployment and wait for it.
    // Counted by the paper broker process: since its last start when it had to be restarted.
    const faultCounts = (await admin.stats()).faults;
    faultsOn = false;
    await admin.clearFaults();
    if (def.workerEnv) {
      // Workers started with crash points armed are replaced by plain ones.
      supervisor.envForStart = () => ({});
      await supervisor.replaceAll();
    }
    const stopTimeoutMs = 120_000;
    const results = await Promise.all(
      deployments.map(async (d) => {
        // A stop the row's status refuses (the runtime failed or ended already) is logged: the wait below decides.
        await withTimeout('stop command', 15_000, issueDeploymentCommand({ db: pool, temporal: client }, { deploymentId: d.id, kind: 'stop', by: 'chaos' })).catch((e: Error) => {
          if (!(e instanceof OperationError && e.kind === 'conflict')) throw e;
          log(`stop ${d.workflowId}: ${e.message}`);
        });
        return withTimeout(`${d.workflowId} to complete`, stopTimeoutMs, d.handle.result()).then(
          () => true,
          (e: Error) => (log(`not completed: ${d.workflowId}: ${e.message}`), false),
        );
      }),
    );
    const notCompleted = results.filter((ok) => !ok).length;
    log(`deployments stopped (${notCompleted} not completed within ${stopTimeoutMs / 1000}s)`);

    // Workflow-task failures in each deployment's last run.
    // Each is named (run, event, cause, message) so a failed run says what failed.
    const workflowTaskFailureDetail: string[] = [];
    for (const d of deployments) {
      const h = await withTimeout('history', 15_000, client.workflow.getHandle(d.workflowId).fetchHistory()).catch(() => undefined);
      for (const e of h?.events ?? []) {
        const a = e.workflowTaskFailedEventAttributes;
        if (a) workflowTaskFailureDetail.push(`${d.workflowId} event ${String(e.eventId)}: cause ${String(a.cause)}: ${a.failure?.message ?? '(no message)'}`);
      }
    }
    const workflowTaskFailures = workflowTaskFailureDetail.length;
    for (const f of workflowTaskFailureDetail) log(`workflow task failed: ${f}`);

    // Final reconciliation (the activity itself, in-process), then the figures from Postgres.
    const env = new MockActivityEnvironment();
    const acts = createOrderActivities({ db: pool, brokers: { paper: paperBrokerPort(paper.url) } });
    for (const d of deployments) await withTimeout('final syncOrders', 60_000, env.run(acts.syncOrders, { deploymentId: d.id, broker: 'paper', accountId: account }));

    const q = async (sql: string, params: unknown[]) => (await pool.query<{ n: number }>(sql, params)).rows[0]!.n;
    const brokerDupByClientId = await q('SELECT count(*)::int AS n FROM (SELECT client_order_id FROM paper_orders WHERE account = $1 GROUP BY 1 HAVING count(*) > 1) x', [account]);
    const brokerOrdersUnknownToLedger = await q('SELECT count(*)::int AS n FROM paper_orders o WHERE account = $1 AND NOT EXISTS (SELECT 1 FROM order_ledger l WHERE l.client_order_id = o.client_order_id)', [account]);
    const ledgerDupByIntent = await q(
      'SELECT count(*)::int AS n FROM (SELECT 1 FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) GROUP BY workflow_id, cycle_seq, leg, intent_version HAVING count(*) > 1) x',
      [ids],
    );
    const duplicateOrders = brokerDupByClientId + brokerOrdersUnknownToLedger + ledgerDupByIntent;
    const brokerFills = await q('SELECT count(*)::int AS n FROM paper_fills WHERE account = $1', [account]);
    const lostFills = await q(`SELECT count(*)::int AS n FROM paper_fills pf WHERE pf.account = $1 AND NOT EXISTS (SELECT 1 FROM fills f WHERE f.broker = 'paper' AND f.broker_fill_id = pf.id)`, [account]);
    const filledQtyMismatches = await q(
      'SELECT count(*)::int AS n FROM order_ledger l JOIN paper_orders o ON o.account = $1 AND o.client_order_id = l.client_order_id WHERE abs(l.filled_qty - o.filled_qty::float8) > 1e-9',
      [account],
    );
    const stuckLedgerRows = await q('SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state = ANY($2::text[])', [ids, UNRESOLVED_STATES]);
    const ledgerStates = Object.fromEntries(
      (await pool.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) GROUP BY 1 ORDER BY 1', [ids])).rows.map((r) => [r.state, r.n]),
    );
    const brokerOrders = await q('SELECT count(*)::int AS n FROM paper_orders WHERE account = $1', [account]);
    const batch = evaluators.length ? await evaluatorFigures(client, pool, evaluators, ids) : undefined;
    const stuckWorkflows = notCompleted + stuckLedgerRows + workflowTaskFailures + (batch?.workflowTaskFailures ?? 0);
    // Every cycle a deployment started left its audit row: cycle numbers 1..max without holes.
    const cycleGaps = await q(
      'SELECT coalesce(sum(mx - n), 0)::int AS n FROM (SELECT max(cycle_seq) AS mx, count(DISTINCT cycle_seq) AS n FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[]) GROUP BY deployment_id) x',
      [ids],
    );
    const processCrashes = {
      ioWorkers: supervisor.stats.errorExits,
      cpuWorkers: cpuWorkers?.stats.errorExits ?? 0,
      api: api?.process.crashes ?? 0,
      paperBroker: paper.crashes,
    };

    const extra = def.verify ? await def.verify(ctx) : { figures: {}, passed: true };
    const result: ScenarioResult = {
      scenario: def.name,
      passed: false,
      failures: [],
      cycles: await cycles(),
      orders: await orders(),
      brokerOrders,
      brokerFills,
      duplicateOrders,
      duplicateDetail: { brokerDupByClientId, brokerOrdersUnknownToLedger, ledgerDupByIntent },
      lostFills,
      stuckWorkflows,
      stuckDetail: { notCompleted, stuckLedgerRows, workflowTaskFailures, workflowTaskFailureDetail: workflowTaskFailureDetail.slice(0, 10), ...(batch ? { evaluatorWorkflowTaskFailures: batch.workflowTaskFailures } : {}) },
      filledQtyMismatches,
      cycleGaps,
      ledgerStates,
      deployments: deployments.length,
      evaluation: evaluation ?? null,
      ...(batch ? { evaluators: batch } : {}),
      workers: def.workers,
      ...supervisor.stats,
      processCrashes,
      ...(api ? { healthTimeline: api.monitor.timeline(), apiDataRoute: { path: '/v1/orders', byStatus: api.monitor.dataRoute, without503RetryAfter: api.monitor.dataRoute503WithoutRetryAfter } } : {}),
      brokerFaults: faultCounts,
      ...scenarioFigures,
      ...extra.figures,
      wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
    const failures: string[] = [];
    if (duplicateOrders) failures.push(`${duplicateOrders} duplicate orders`);
    if (lostFills) failures.push(`${lostFills} lost fills`);
    if (stuckWorkflows) failures.push(`${stuckWorkflows} stuck`);
    if (filledQtyMismatches) failures.push(`${filledQtyMismatches} ledger/broker filled-qty mismatches`);
    if (cycleGaps) failures.push(`${cycleGaps} cycles left no audit row`);
    if (result.cycles < def.minCycles) failures.push(`only ${result.cycles} cycles (< ${def.minCycles})`);
    if (def.minOrders && result.orders < def.minOrders) failures.push(`only ${result.orders} orders (< ${def.minOrders})`);
    if (supervisor.stats.errorExits) failures.push(`${supervisor.stats.errorExits} worker error exits`);
    if (processCrashes.cpuWorkers) failures.push(`${processCrashes.cpuWorkers} CPU worker error exits`);
    if (processCrashes.api) failures.push(`the API crashed ${processCrashes.api} times`);
    if (!extra.passed) failures.push(...(extra.why ?? ['scenario check failed']));
    result.failures = failures;
    result.passed = failures.length === 0;
    // The paper broker stands in for an outside broker; its crashes are reported, not counted against the platform.
    if (paper.crashes) result.warnings = [`the paper broker exited ${paper.crashes} times on its own (restarted ${paper.restarts}); see ${path.join(logDir, 'paper-broker.log')}`];
    if (opts.writeResult !== false) {
      const dir = path.join(REPO_ROOT, 'chaos', 'results');
      mkdirSync(dir, { recursive: true });
      // The old design's figures beside the new one's, not over them.
      writeFileSync(path.join(dir, `${def.name}${evaluation === 'deployment' ? '.deployment' : ''}.json`), JSON.stringify(result, null, 2) + '\n');
    }
    return result;
  } finally {
    await cleanup();
  }
}
