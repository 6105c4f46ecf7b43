/**
 * R12: end-of-day liquidations under faults. Each run is one liquidation of its own deployment's positions (its own
 * trading day, so its own workflow), at the close minus 5 minutes on a clock running with the wall clock: flat by
 * the close minus 1 minute is 4 real minutes. Runs go `concurrency` at a time while the paper broker fails
 * submissions (5xx, 429, rejects, timeouts before and after executing), fails reads, and fills orders in slices; and
 * on a timeline the harness SIGKILLs an IO worker, restarts Postgres, restarts Redis. Pass: at least 99% flat in time,
 * a critical alert in the outbox for every other one, no duplicate order (the frame counts the broker's orders per
 * client order id and orders the ledger does not know), no close left unresolved. One more run, a control, is
 * triggered 3 s before its flat-by time (after its last look was due): it must end not flat, with its alert.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { recordLiquidation } from '../../db/liquidation-records';
import { getLiquidation } from '../../db/sql/liquidations';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import type { FaultSettings } from '../../brokers/paper/admin-client';
import { currentOrNextSession } from '../../domain/calendar';
import { eodWindow, exchangeDate } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import { UNRESOLVED_STATES } from '../../domain/orders';
import { sleep, withTimeout } from '../../harness/async';
import { startLiquidationWorkflow } from '../../services/liquidations';
import type { ScenarioContext, ScenarioDef } from '../lib/run-scenario';

export interface R12Options {
  runs?: number;
  concurrency?: number;
  /** positions (symbols) per run */
  positions?: number;
  /**
   * ms between disruptions (worker kill, Redis restart, worker kill, Postgres restart, in turn); null: broker faults
   * only (the scenario, `npm run chaos -- r12`); `npm run chaos -- r12-restarts` adds the disruptions
   */
  disruptEveryMs?: number | null;
  faults?: FaultSettings;
}

interface Run {
  run: number;
  /** a control: triggered after its last look was due, so it cannot be flat in time and must alert */
  late?: boolean;
  deploymentId: string;
  date: string;
  liquidationId?: string;
  workflowId?: string;
  status?: string;
  inTime?: boolean;
  /** reduce-only to verified flat, ms of the exchange's time */
  verifyMs?: number;
  closes?: number;
  rounds?: number;
  error?: string;
}

const WORKERS = 2;
/** Runs triggered too late to be flat in time (the alert path, exercised in every run of the scenario). */
const LATE_CONTROLS = 1;
/** How long a restarted IO worker takes to be up (connected to Postgres, Redis and Temporal) on a busy machine. */
const WORKER_START_MS = 15_000;

const DEFAULT_FAULTS: FaultSettings = {
  seed: 12, http5xx: 0.1, http429: 0.02, reject: 0.08, timeoutBeforeExecute: 0.02, executeThenTimeout: 0.03, timeoutMs: 11_000, retryAfterMs: 1_000,
  // Reads (each round's look makes many) fail rarely: a look fails whole at its first failed read, and ten looks at
  // once failing together open the broker guard's breaker for its cooldown, which no liquidation then outlasts.
  readFaults: { http5xx: 0.01, http429: 0, timeout: 0 },
};

/** `n` NYSE sessions, newest first, ending before 2026-11-01 (no run shares a day, so none shares a workflow). */
function sessionDays(n: number): string[] {
  const days: string[] = [];
  let t = Date.UTC(2026, 9, 30, 12);
  while (days.length < n) {
    const s = currentOrNextSession('XNYS', t);
    const d = exchangeDate('XNYS', s.open);
    if (!days.includes(d)) days.push(d);
    t -= 86_400_000;
  }
  return days;
}

/** A harness query through a Postgres restart: tries again for up to a minute. */
async function retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await sleep(500);
    }
  }
}

export function r12(opts: R12Options = {}): ScenarioDef {
  const count = opts.runs ?? 100;
  const concurrency = opts.concurrency ?? 25;
  const positions = opts.positions ?? 2;
  const disruptEveryMs = opts.disruptEveryMs === undefined ? 25_000 : opts.disruptEveryMs;
  const runs: Run[] = [];
  const disruptions: Array<{ at: number; what: string; ms: number }> = [];
  return {
    name: disruptEveryMs === null ? 'r12' : 'r12-restarts',
    deployments: 0,
    workers: WORKERS,
    ownServers: true,
    minCycles: 0,
    async drive(ctx) {
      const days = sessionDays(count + LATE_CONTROLS);
      const tag = randomUUID().slice(0, 6).toUpperCase();
      const symbols = (r: number) => Array.from({ length: positions }, (_, k) => `LQ${tag}${r}X${k}`);
      await ctx.admin.setPrices(Object.fromEntries(Array.from({ length: count + LATE_CONTROLS }, (_, r) => symbols(r).map((s, k) => [s, 20 + k])).flat()));
      const orders = createOrderActivities({ db: ctx.pool, brokers: { paper: paperBrokerPort(ctx.paper.url) } });

      // The positions, before any fault: one deployment per run (no eod policy: the scheduler plans none of them).
      for (let r = 0; r < count + LATE_CONTROLS; r++) {
        const deploymentId = randomUUID();
        const spec = { ...ctx.spec(symbols(r)[0]!), symbols: symbols(r) };
        await ctx.pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'chaos')`, [
          deploymentId, `deployment-${deploymentId}`, ctx.account, JSON.stringify(spec),
        ]);
        for (const [k, symbol] of symbols(r).entries()) {
          const input: PlaceOrderInput = {
            clientOrderId: clientOrderId(`deployment-${deploymentId}`, k + 1, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: k + 1, leg: 0, intentVersion: 1,
            broker: 'paper', accountId: ctx.account, symbol, side: 'buy', qty: 3 + ((r + k) % 7), orderType: 'market', timeInForce: 'day',
          };
          const placed = (await new MockActivityEnvironment().run(orders.placeOrder, input)) as PlaceOrderResult;
          if (placed.state !== 'FILLED') throw new Error(`entry ${symbol} did not fill (${placed.state})`);
        }
        runs.push({ run: r + 1, deploymentId, date: days[r]!, ...(r >= count ? { late: true } : {}) });
      }
      ctx.log(`${count} deployments hold ${count * positions} positions; faults on`);
      await ctx.admin.setFaults(opts.faults ?? DEFAULT_FAULTS);
      await ctx.admin.configure({ partialFillSlices: 3 });
      ctx.paper.onRestart = async () => {
        await ctx.admin.setFaults(opts.faults ?? DEFAULT_FAULTS);
        await ctx.admin.configure({ partialFillSlices: 3 });
      };

      let running = true;
      let lastKillAt = 0;
      const disruptor = (async () => {
        // Postgres is the paper broker's too: while it restarts the broker answers 5xx and the guard's breaker opens for
        // its cooldown (30 s), so it restarts every fourth time only; workers are killed every other time.
        const kinds = ['kill an IO worker', 'restart redis', 'kill an IO worker', 'restart postgres'] as const;
        for (let i = 0; running && disruptEveryMs !== null; i++) {
          await sleep(disruptEveryMs);
          if (!running) break;
          const what = kinds[i % kinds.length]!;
          // A worker starting while Postgres or Redis is down exits (and is restarted): not this scenario's fault, so
          // a server restarts only once every worker has been up for a while.
          while (running && what !== 'kill an IO worker' && (ctx.supervisor.alive() < WORKERS || Date.now() - lastKillAt < WORKER_START_MS)) await sleep(250);
          if (!running) break;
          const t0 = Date.now();
          if (what === 'kill an IO worker') {
            ctx.supervisor.killOne(ctx.rng());
            lastKillAt = Date.now();
          }
          else if (what === 'restart postgres' && ctx.stack.postgres) await withTimeout('postgres restart', 120_000, ctx.stack.postgres.restart());
          else if (what === 'restart redis' && ctx.stack.redis) await withTimeout('redis restart', 60_000, ctx.stack.redis.restart());
          else continue;
          disruptions.push({ at: t0, what, ms: Date.now() - t0 });
          ctx.log(`disruption: ${what} (${Date.now() - t0} ms)`);
        }
      })();

      let next = 0;
      const lane = async () => {
        for (let i = next++; i < runs.length; i = next++) await liquidate(ctx, runs[i]!);
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      running = false;
      await disruptor;
      return {};
    },
    async verify(ctx) {
      const all = runs;
      const ids = all.flatMap((r) => (r.liquidationId ? [r.liquidationId] : []));
      const alerts = await ctx.pool.query<{ id: string }>(`SELECT payload->>'liquidationId' AS id FROM notifications WHERE kind = 'eod.liquidation_not_flat' AND severity = 'critical' AND payload->>'liquidationId' = ANY($1::text[])`, [ids]);
      const alertedIds = new Set(alerts.rows.map((a) => a.id));
      const hasAlert = (r: Run) => r.liquidationId !== undefined && alertedIds.has(r.liquidationId);
      const controls = all.filter((r) => r.late);
      const regular = all.filter((r) => !r.late);
      const notOk = regular.filter((r) => !(r.status === 'flat' && r.inTime));
      const workflowIds = all.flatMap((r) => (r.workflowId ? [r.workflowId] : []));
      const q = async (sql: string) => (await ctx.pool.query<{ n: number }>(sql, [ctx.account, workflowIds])).rows[0]!.n;
      const closeOrders = await q('SELECT count(*)::int AS n FROM order_ledger WHERE account_id = $1 AND workflow_id = ANY($2::text[])');
      const brokerCloseOrders = await q('SELECT count(*)::int AS n FROM paper_orders o JOIN order_ledger l ON l.client_order_id = o.client_order_id WHERE o.account = $1 AND l.workflow_id = ANY($2::text[])');
      const closeDuplicates = await q(
        'SELECT count(*)::int AS n FROM (SELECT o.client_order_id FROM paper_orders o JOIN order_ledger l ON l.client_order_id = o.client_order_id WHERE o.account = $1 AND l.workflow_id = ANY($2::text[]) GROUP BY 1 HAVING count(*) > 1) x',
      );
      const unresolvedCloses = (await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM order_ledger WHERE workflow_id = ANY($1::text[]) AND state = ANY($2::text[])', [workflowIds, UNRESOLVED_STATES])).rows[0]!.n;
      const sorted = regular.flatMap((r) => (r.verifyMs !== undefined ? [r.verifyMs] : [])).sort((a, b) => a - b);
      const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : null);
      const flatInTime = regular.length - notOk.length;
      const alerted = notOk.filter(hasAlert).length;
      const controlsAlerted = controls.filter((r) => r.status === 'not_flat' && hasAlert(r)).length;
      const why: string[] = [];
      if (regular.length < count) why.push(`only ${regular.length} of ${count} runs`);
      if (controlsAlerted < controls.length) why.push(`${controls.length - controlsAlerted} of ${controls.length} late controls did not end not-flat with an alert`);
      if (flatInTime < Math.ceil(0.99 * count)) why.push(`only ${flatInTime} of ${count} flat in time`);
      if (alerted < notOk.length) why.push(`${notOk.length - alerted} not-flat liquidations without an alert (runs ${notOk.filter((r) => !hasAlert(r)).map((r) => r.run).join(', ')})`);
      if (closeDuplicates) why.push(`${closeDuplicates} close orders at the broker more than once`);
      if (unresolvedCloses) why.push(`${unresolvedCloses} close orders left unresolved`);
      return {
        figures: {
          runs: regular.length, flatInTime, notFlat: notOk.length, alerted, lateControls: { runs: controls.length, alerted: controlsAlerted }, closeOrders, brokerCloseOrders, closeDuplicates, unresolvedCloses,
          verifyMs: { p50: pct(50), p99: pct(99), max: sorted.at(-1) ?? null },
          rounds: { max: Math.max(0, ...regular.map((r) => r.rounds ?? 0)), multiRound: regular.filter((r) => (r.rounds ?? 0) > 1).length },
          concurrency, positionsPerRun: positions, disruptions: disruptions.map((d) => ({ what: d.what, ms: d.ms })),
          notOk: notOk.map((r) => ({ run: r.run, status: r.status ?? null, inTime: r.inTime ?? null, error: r.error ?? null })),
        },
        passed: why.length === 0,
        why,
      };
    },
  };
}

/** One run: recorded and started as the platform does, the verdict awaited, the workflow (now waiting for the next open) ended. */
async function liquidate(ctx: ScenarioContext, r: Run): Promise<void> {
  const window = eodWindow('XNYS', r.date, 5)!;
  // A late control starts 3 s before the flat-by time: past its last look (flat-by minus 5 s), so it must alert.
  const clock = { dataStartMs: r.late ? window.flatByMs - 3_000 : window.reduceOnlyAtMs - 500, wallStartMs: Date.now(), speed: 1 };
  try {
    const { liquidation } = await retrying('record', () =>
      recordLiquidation(ctx.pool, {
        accountId: ctx.account, calendar: 'XNYS', trigger: 'manual', requestedBy: 'chaos', reason: `chaos r12 run ${r.run}`, scope: 'deployments', deploymentIds: [r.deploymentId],
        brokers: ['paper'], marginMinutes: 5, window, clock,
      }),
    );
    Object.assign(r, { liquidationId: liquidation.id, workflowId: liquidation.workflowId });
    await retrying('start', () => startLiquidationWorkflow({ db: ctx.pool, temporal: ctx.client }, liquidation));
    // The verdict is due by the flat-by time (4 min of wall time here); a minute more before giving up on it.
    const giveUpAt = clock.wallStartMs + (window.flatByMs - clock.dataStartMs) + 60_000;
    for (;;) {
      const l = await retrying('read', () => getLiquidation(ctx.pool, liquidation.id));
      if (l && (l.status === 'flat' || l.status === 'not_flat')) {
        Object.assign(r, { status: l.status, inTime: l.report?.inTime ?? false, verifyMs: l.report ? l.report.verifiedAt - window.reduceOnlyAtMs : undefined, closes: l.report?.orders, rounds: l.report?.rounds });
        break;
      }
      if (Date.now() > giveUpAt) {
        r.error = `no verdict ${Math.round((Date.now() - clock.wallStartMs) / 1000)} s after the start`;
        break;
      }
      await sleep(250);
    }
    // Verdict recorded: it would now wait for the next open to lift reduce-only; a chaos run does not wait for it.
    await ctx.client.workflow.getHandle(liquidation.workflowId).terminate('chaos r12: verdict recorded').catch(() => undefined);
    ctx.log(`run ${r.run} (${r.date}): ${r.status ?? r.error}${r.inTime === false ? ' (late)' : ''}, ${r.closes ?? '?'} closes over ${r.rounds ?? '?'} rounds, flat ${r.verifyMs ?? '?'} ms after reduce-only`);
  } catch (err) {
    r.error = (err as Error).message;
    ctx.log(`run ${r.run}: ${r.error}`);
  }
}
