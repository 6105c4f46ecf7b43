/**
 * R5: ambiguous broker outcome. Phase 1: the paper broker executes every new order and then holds its answer for 12 s,
 * longer than the IO worker's broker adapter timeout (paperBrokerPort default 10 s; a batch deployment's decided order
 * is aborted sooner, at the end of its 2-s local-activity attempt), until at least 200 orders were
 * created that way; phase 2: the same on 30% of submissions. Throughout, lookups by client order id lag (seeded): a
 * recent order is invisible to some of them, so the retry resubmits and meets Alpaca's 422 "client_order_id must be
 * unique", which only a later lookup resolves. Pass: every order resolved by lookup with one broker order, 0 duplicates.
 */
import { issueDeploymentCommand } from '../../services/deployment-commands';
import type { ControlKind } from '../../domain/deployment/commands';
import { UNRESOLVED_STATES } from '../../domain/orders';
import { sleep } from '../../harness/async';
import type { PaperStats } from '../../brokers/paper/admin-client';
import type { ScenarioContext, ScenarioDef } from '../lib/run-scenario';

const HOLD_MS = 12_000;
const ADAPTER_TIMEOUT_MS = 10_000;
/**
 * The first retry's lookup comes about 2 s (after a decided order's 2-s local attempt) or 10.5 s (after an adapter
 * timeout) after the order was created: a 15 s lag window hides it (and the next one or two).
 */
const LAGGING_LOOKUP = { laggingLookup: 0.25, lookupLagMs: 15_000 };

/** A command issued as the API issues it (recorded, then sent; the runtime obeys nothing else). */
const control = (ctx: ScenarioContext, i: number, kind: ControlKind) =>
  issueDeploymentCommand({ db: ctx.pool, temporal: ctx.client }, { deploymentId: ctx.deployments[i]!.id, kind, by: 'chaos r5' });

/**
 * The broker's stats once every held answer's hold has ended (at most HOLD_MS after the last one began): only then is
 * each one lost (its client gone) or delivered. The drain can take less than HOLD_MS after the chaos phase (a decided
 * order's first attempt gives up after 2 s, so the stops land at once), and stats read then counted the answers still
 * held as reaching the worker: 2 of 241 in a run of 2026-12-06 whose drain took 9.5 s, while instrumented runs saw
 * every held submission aborted by the worker (at that 2-s attempt's end) and no answer delivered.
 */
async function afterTheHolds(ctx: ScenarioContext): Promise<PaperStats & { heldAnswersPending: number; heldAtVerify: number; waitedMs: number }> {
  const t0 = Date.now();
  let heldAtVerify: number | undefined;
  for (;;) {
    const stats = await ctx.admin.stats();
    const heldAnswersPending = stats.executedThenHeld - stats.heldAnswersLost - stats.heldAnswersDelivered;
    heldAtVerify ??= heldAnswersPending;
    if (heldAnswersPending === 0 || Date.now() - t0 > HOLD_MS + 5_000) return { ...stats, heldAnswersPending, heldAtVerify, waitedMs: Date.now() - t0 };
    await sleep(500);
  }
}

async function waitAllPaused(ctx: ScenarioContext, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const r = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM deployments WHERE id = ANY($1::uuid[]) AND status <> 'paused'`, [ctx.deployments.map((d) => d.id)]);
    if (r.rows[0]!.n === 0) return;
    if (Date.now() > deadline) throw new Error(`${r.rows[0]!.n} deployments not paused ${maxMs / 1000} s after the pause commands`);
    await sleep(200);
  }
}

export function r5(
  opts: { phase1Orders?: number; phase1MaxMs?: number; phase2Ms?: number; deployments?: number; workers?: number; minCycles?: number } = {},
): ScenarioDef {
  const phase1Orders = opts.phase1Orders ?? 200;
  let phase1: { brokerOrders: number; executedThenHeld: number; duplicate422: number; laggingLookups: number; ms: number } | undefined;
  return {
    name: 'r5',
    // Each deployment places about one order per 15 s in phase 1 (10 s timeout, retry, then the next crossing in the
    // right direction); more of them than two shared cores can cycle makes bars go stale and orders rarer, not commoner.
    deployments: opts.deployments ?? 18,
    workers: opts.workers ?? 1,
    minCycles: opts.minCycles ?? 100,
    minOrders: phase1Orders,
    // A held submission keeps its gate connection (kill-switch gate) for the adapter's 10 s: room for every deployment.
    workerEnv: () => ({ ORDER_GATE_POOL_MAX: '40' }),
    faults: { seed: 5, executeThenTimeout: 1, timeoutMs: HOLD_MS, ...LAGGING_LOOKUP },
    async drive(ctx) {
      const t0 = Date.now();
      // Every runtime starts at once, cycling each second until its first order blocks it; all of them at once would
      // queue workflow tasks for seconds, so bars go stale and nothing is ordered. Pause them all, resume one at a time.
      await Promise.all(ctx.deployments.map((_, i) => control(ctx, i, 'pause')));
      // A runtime busy starting may answer after the command's wait (recorded, applied later): resume only once paused.
      await waitAllPaused(ctx, 60_000);
      for (let i = 0; i < ctx.deployments.length; i++) {
        await sleep(600);
        await control(ctx, i, 'resume');
      }
      // Phase 2 must end inside the replayed session (about 384 s after the deployments started).
      const maxMs = opts.phase1MaxMs ?? 320_000;
      let stats = await ctx.admin.stats();
      while (stats.accepted < phase1Orders && Date.now() - t0 < maxMs) {
        await sleep(2_000);
        stats = await ctx.admin.stats();
      }
      phase1 = {
        brokerOrders: stats.accepted,
        executedThenHeld: stats.executedThenHeld,
        duplicate422: stats.duplicateClientOrderIds,
        laggingLookups: stats.faults.laggingLookup,
        ms: Date.now() - t0,
      };
      ctx.log(`phase 1 (100%): ${JSON.stringify(phase1)}`);
      await ctx.admin.setFaults({ seed: 55, executeThenTimeout: 0.3, timeoutMs: HOLD_MS, ...LAGGING_LOOKUP });
      await sleep(opts.phase2Ms ?? 30_000);
      return { holdMs: HOLD_MS, adapterTimeoutMs: ADAPTER_TIMEOUT_MS, laggingLookupFault: LAGGING_LOOKUP, phase1 };
    },
    async verify(ctx) {
      const ids = ctx.deployments.map((d) => d.id);
      const r = await ctx.pool.query<{ resolved: number; resubmitted: number; resubmittedResolved: number }>(
        `SELECT count(*) FILTER (WHERE broker_order_id IS NOT NULL AND state <> ALL($2::text[]))::int AS resolved,
                count(*) FILTER (WHERE submit_attempts > 1)::int AS resubmitted,
                count(*) FILTER (WHERE submit_attempts > 1 AND broker_order_id IS NOT NULL AND state <> ALL($2::text[]))::int AS "resubmittedResolved"
         FROM order_ledger WHERE deployment_id = ANY($1::uuid[])`,
        [ids, UNRESOLVED_STATES],
      );
      const { resolved, resubmitted, resubmittedResolved } = r.rows[0]!;
      const stats = await afterTheHolds(ctx);
      const orders = await ctx.orders();
      const figures = {
        ordersResolvedWithBrokerId: resolved,
        // Every resubmission is of an order that exists (its first attempt executed): each one met the 422.
        ledgerRowsResubmitted: resubmitted,
        ledgerRowsResubmittedAndResolved: resubmittedResolved,
        duplicateClientOrderId422s: stats.duplicateClientOrderIds,
        duplicateClientOrderId422sPhase2: stats.duplicateClientOrderIds - (phase1?.duplicate422 ?? 0),
        laggingLookups: stats.faults.laggingLookup,
        executedThenHeld: stats.executedThenHeld,
        // held answers whose client had given up by the end of the hold: each one a real timeout at the worker
        heldAnswersLost: stats.heldAnswersLost,
        // answered on a connection still open at the end of the hold: the worker waited longer than its timeouts
        heldAnswersDelivered: stats.heldAnswersDelivered,
        // still held when the drain was over, and how long verify then waited for their holds to end
        heldAnswersStillHeldAfterDrain: stats.heldAtVerify,
        waitedForHoldsMs: stats.waitedMs,
      };
      const why: string[] = [];
      if (!phase1 || phase1.brokerOrders < phase1Orders) why.push(`phase 1 created ${phase1?.brokerOrders ?? 0} orders (< ${phase1Orders})`);
      if (phase1 && phase1.executedThenHeld !== phase1.brokerOrders) why.push(`phase 1: ${phase1.brokerOrders} orders but only ${phase1.executedThenHeld} answers held`);
      if (stats.heldAnswersLost !== stats.executedThenHeld) {
        why.push(`${stats.executedThenHeld - stats.heldAnswersLost} held answers not lost to a timeout: ${stats.heldAnswersDelivered} reached the worker, ${stats.heldAnswersPending} still held after the wait`);
      }
      if (resolved !== orders) why.push(`${orders - resolved} orders not resolved with a broker order id`);
      if (stats.duplicateClientOrderIds < 1) why.push('the 422 duplicate-id path was never exercised');
      if (resubmittedResolved !== resubmitted) why.push(`${resubmitted - resubmittedResolved} resubmitted orders not resolved`);
      return { figures, passed: why.length === 0, why };
    },
  };
}
