/**
 * End-of-day liquidation time (`npm run bench -- liquidation [--rounds=10] [--deployments=20] [--positions=10]`):
 * 20 deployments of one account hold 10 positions each (200 in all) at the paper broker; one liquidation of the 20
 * (deployments scope, as the scheduler records it for deployments with an eod policy) is recorded and started through
 * services/liquidations.ts, and timed from that trigger to the broker verified flat (the report's verifiedAt, on a
 * clock running with the wall clock). Repeated for `rounds` trading days (after one warm-up round, not counted), fresh
 * deployments and symbols each time.
 * Baseline in the same run, each round: the paper broker's own per-order latency, one market order submitted
 * straight to a second paper broker process (its own account; HTTP round trip, no ledger, no Temporal), once per position. Real dev server, Postgres, Redis,
 * one IO worker process. Goal: p50 and p99 at most 5 s. The log shows each round's phases from its history
 * (bench/lib/liquidation-breakdown.ts); the JSON keeps the last round's.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { recordLiquidation } from '../db/liquidation-records';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../activities/orders';
import { paperBrokerPort } from '../brokers';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { startPaperBroker } from '../brokers/paper/start';
import { getLiquidation } from '../db/sql/liquidations';
import { currentOrNextSession } from '../domain/calendar';
import { parseDeploymentSpec } from '../domain/deployment/spec';
import { eodWindow, exchangeDate } from '../domain/eod/policy';
import { clientOrderId } from '../domain/ids';
import { buildBundles } from '../harness/bundles';
import { WorkerSupervisor } from '../harness/processes/worker-supervisor';
import { connectTemporal } from '../platform/temporal';
import { startLiquidationWorkflow } from '../services/liquidations';
import { formatBreakdown, liquidationBreakdown, type LiquidationBreakdown } from './lib/liquidation-breakdown';
import { summarize } from './lib/percentiles';
import { benchStack, intArg } from './stack';

const GOAL_MS = 5_000;
const ROOT = path.resolve(__dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` NYSE sessions before 2026-11-01, one per round (each round's liquidation is its own workflow). */
function sessionDays(n: number): string[] {
  const days: string[] = [];
  for (let t = Date.UTC(2026, 9, 30, 12); days.length < n; t -= 86_400_000) {
    const d = exchangeDate('XNYS', currentOrNextSession('XNYS', t).open);
    if (!days.includes(d)) days.push(d);
  }
  return days;
}

export async function benchLiquidation(): Promise<Record<string, unknown>> {
  const rounds = intArg('rounds', 10, 100);
  const deploymentsPerRound = intArg('deployments', 20, 200);
  const positionsPer = intArg('positions', 10, 100);
  const positions = deploymentsPerRound * positionsPer;
  const t0 = Date.now();
  const log = (m: string) => console.log(`[liquidation +${Math.round((Date.now() - t0) / 1000)}s] ${m}`);
  const loadBefore = os.loadavg();
  const stack = await benchStack({ temporal: true, redis: true });
  const cleanups: Array<() => Promise<unknown>> = [async () => stack.stop()];
  try {
    const bundleDir = path.join(ROOT, '.local', 'bench', 'liquidation-bundles');
    await buildBundles(bundleDir);
    const account = `bench-liq-${randomUUID().slice(0, 6)}`;
    const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e10 });
    cleanups.push(() => paper.stop());
    const env = {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', LOG_LEVEL: 'warn', EOD_SCHEDULER: 'off',
      DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
      WORKFLOW_BUNDLE_DIR: bundleDir, PAPER_BROKER_URL: paper.url, SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '3000',
    };
    const workers = new WorkerSupervisor(env, 1, () => ({}), log, { logDir: path.join(ROOT, '.local', 'bench', 'liquidation-logs') });
    cleanups.push(() => workers.stop());
    workers.start();
    const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
    cleanups.push(() => pool.end());
    const { client, connection } = await connectTemporal({ TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default' });
    cleanups.push(() => connection.close());
    // The baseline's orders go to a second paper broker process of its own account: on the liquidated account they
    // would be fills the ledger does not know (200 reconciliation findings and alerts for the liquidation's first look).
    const basePaper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account: `${account}-base`, initialCash: 1e10 });
    cleanups.push(() => basePaper.stop());
    const broker = paperBrokerPort(paper.url);
    const baseBroker = paperBrokerPort(basePaper.url);
    const admin = new PaperBrokerAdmin(paper.url);
    const orders = createOrderActivities({ db: pool, brokers: { paper: broker } });
    log(`1 IO worker process, paper broker ${paper.url}; ${rounds} rounds of ${positions} positions over ${deploymentsPerRound} deployments`);

    const toFlat: number[] = [];
    const toVerdictSeen: number[] = [];
    const brokerOrder: number[] = [];
    const entryPlaceOrder: number[] = [];
    const perRound: Array<{ day: string; toFlatMs: number; closes: number; rounds: number }> = [];
    // One more round first, not counted: the worker's first liquidation loads its workflow code and warms its pools.
    const days = sessionDays(rounds + 1);
    let warmUpMs: number | null = null;
    let lastBreakdown: LiquidationBreakdown | undefined;
    for (const [r, day] of days.entries()) {
      // Fresh deployments and symbols: the last round's stay reduce-only until their next open.
      const held: Array<{ deploymentId: string; symbols: string[] }> = [];
      for (let d = 0; d < deploymentsPerRound; d++) {
        const deploymentId = randomUUID();
        const symbols = Array.from({ length: positionsPer }, (_, k) => `BL${r}D${d}S${k}`);
        const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols, timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', eod: { marginMinutes: 5 } });
        await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'bench')`, [
          deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
        ]);
        held.push({ deploymentId, symbols });
      }
      await admin.setPrices(Object.fromEntries(held.flatMap((h) => h.symbols.map((s, k) => [s, 10 + k]))));
      await new PaperBrokerAdmin(basePaper.url).setPrices({ [`BASE${r}`]: 50 });
      for (const h of held) {
        for (const [k, symbol] of h.symbols.entries()) {
          const input: PlaceOrderInput = {
            clientOrderId: clientOrderId(`deployment-${h.deploymentId}`, k + 1, 0, 1), deploymentId: h.deploymentId, workflowId: `deployment-${h.deploymentId}`, cycle: k + 1, leg: 0,
            intentVersion: 1, broker: 'paper', accountId: account, symbol, side: 'buy', qty: 1 + (k % 9), orderType: 'market', timeInForce: 'day',
          };
          const s = performance.now();
          const placed = (await new MockActivityEnvironment().run(orders.placeOrder, input)) as PlaceOrderResult;
          if (r > 0) entryPlaceOrder.push(performance.now() - s);
          if (placed.state !== 'FILLED') throw new Error(`entry ${symbol}: ${placed.state}`);
        }
      }
      // Baseline: the paper broker's per-order latency, one market order per position straight to it.
      for (let i = 0; r > 0 && i < positions; i++) {
        const s = performance.now();
        await baseBroker.submitOrder({ clientOrderId: `base-${r}-${i}-${randomUUID().slice(0, 8)}`, symbol: `BASE${r}`, side: i % 2 ? 'sell' : 'buy', qty: 1, type: 'market', timeInForce: 'day' });
        brokerOrder.push(performance.now() - s);
      }

      // The trigger: recorded and started at the reduce-only moment, the exchange's clock running with the wall clock.
      const window = eodWindow('XNYS', day, 5)!;
      const triggerAt = Date.now();
      const clock = { dataStartMs: window.reduceOnlyAtMs, wallStartMs: triggerAt, speed: 1 };
      const { liquidation } = await recordLiquidation(pool, {
        accountId: account, calendar: 'XNYS', trigger: 'schedule', requestedBy: 'bench', reason: `bench round ${r + 1}`, scope: 'deployments',
        deploymentIds: held.map((h) => h.deploymentId), brokers: ['paper'], marginMinutes: 5, window, clock,
      });
      await startLiquidationWorkflow({ db: pool, temporal: client }, liquidation);
      let done = await getLiquidation(pool, liquidation.id);
      while (done && done.status !== 'flat' && done.status !== 'not_flat') {
        if (Date.now() - triggerAt > 300_000) throw new Error(`round ${r + 1}: no verdict within 5 minutes`);
        await sleep(20);
        done = await getLiquidation(pool, liquidation.id);
      }
      const seenAt = Date.now();
      if (!done?.report?.flat) throw new Error(`round ${r + 1}: not flat: ${JSON.stringify(done?.report?.left)}`);
      await client.workflow.getHandle(liquidation.workflowId).terminate('bench: verdict recorded').catch(() => undefined);
      const flatMs = done.report.verifiedAt - clock.dataStartMs;
      if (r === 0) warmUpMs = Math.round(flatMs);
      else {
        toFlat.push(flatMs);
        toVerdictSeen.push(seenAt - triggerAt);
        perRound.push({ day, toFlatMs: Math.round(flatMs), closes: done.report.orders, rounds: done.report.rounds });
      }
      const left = (await broker.listPositions()).filter((p) => held.some((h) => h.symbols.includes(p.symbol)));
      if (left.length) throw new Error(`round ${r + 1}: the broker still holds ${left.map((p) => p.symbol).join(', ')}`);
      lastBreakdown = await liquidationBreakdown(client, liquidation.workflowId);
      log(`${r === 0 ? 'warm-up round' : `round ${r}/${rounds}`} (${day}): ${positions} positions flat ${Math.round(flatMs)} ms after the trigger, ${done.report.orders} closes over ${done.report.rounds} rounds; from the workflow's start:\n${formatBreakdown(lastBreakdown)}`);
    }

    const main = summarize(toFlat);
    const base = summarize(brokerOrder);
    const ratio = (x: number | null, y: number | null) => (x !== null && y ? Math.round((x / y) * 10) / 10 : null);
    const passed = main.p50Ms !== null && main.p99Ms !== null && main.p50Ms <= GOAL_MS && main.p99Ms <= GOAL_MS;
    console.log(
      `trigger -> verified flat (${positions} positions): p50 ${main.p50Ms} ms, p99 ${main.p99Ms} ms; paper broker per order: p50 ${base.p50Ms} ms, p99 ${base.p99Ms} ms; ` +
        `ratio p50 ${ratio(main.p50Ms, base.p50Ms)} (the liquidation takes that many single-order round trips; ${positions} positions)`,
    );
    return {
      positions, deployments: deploymentsPerRound, rounds,
      p50Ms: main.p50Ms, p99Ms: main.p99Ms,
      triggerToFlat: main,
      triggerToVerdictSeen: summarize(toVerdictSeen),
      baseline: { what: 'one market order submitted straight to a second paper broker process of its own account (HTTP round trip, no ledger, no Temporal), once per position each round', perOrder: base, p50Ms: base.p50Ms, p99Ms: base.p99Ms },
      ratio: { p50: ratio(main.p50Ms, base.p50Ms), p99: ratio(main.p99Ms, base.p99Ms), perPositionP50: main.p50Ms !== null && base.p50Ms ? Math.round((main.p50Ms / positions / base.p50Ms) * 100) / 100 : null },
      warmUpRoundMs: warmUpMs,
      entryPlaceOrder: { what: 'the entries: the placeOrder activity in this process (ledger + broker), per order', ...summarize(entryPlaceOrder) },
      perRound,
      lastRoundPhases: lastBreakdown,
      goal: { p50MsAtMost: GOAL_MS, p99MsAtMost: GOAL_MS },
      passed,
      timestamps: "trigger = Date.now() before the liquidation is recorded and started (its clock's wall start: the reduce-only moment); flat = the report's verifiedAt (the workflow's clock when the broker's positions showed the scope flat) on that clock; verdict seen = this process reading the finished row (polled every 20 ms)",
      setup: {
        machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), loadBefore: loadBefore.map((x) => +x.toFixed(2)), loadAfter: os.loadavg().map((x) => +x.toFixed(2)) },
        stack: 'a fresh benchStack (Postgres, Redis, Temporal dev server), the paper broker, 1 IO worker process (100 activity slots)',
      },
      wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: Error) => log(`cleanup: ${e.message}`));
  }
}
