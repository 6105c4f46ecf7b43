/**
 * Helpers of the dependency-outage scenarios (R3 Postgres, R4 Redis): pick a moment with an order in flight,
 * measure recovery after the dependency returns, and judge what /health said during each outage.
 */
import type { ApiMonitor } from './api';
import { healthState } from './api';
import { sleep } from '../../harness/async';
import type { ScenarioContext } from './run-scenario';

/** One outage: the fault at `downAt`, the start command at `startAt`, the server answering again at `upAt`. */
export interface OutageWindow {
  how: string;
  downAt: number;
  startAt: number;
  upAt: number;
  recovery: Recovery;
  ordersInFlightAtFault?: number;
}

export interface Recovery {
  /** from `upAt` to the first /health answer that was ok (null: not within the timeout) */
  healthOkAfterMs: number | null;
  /** from `upAt` to the first audit row of any deployment */
  firstCycleAfterMs: number | null;
  /** from `upAt` until every deployment had recorded a cycle */
  allDeploymentsCycledAfterMs: number | null;
}

export interface HealthDuringOutage {
  /** answers sent and received within the outage (from 1 s after the fault to the start command) */
  samples: number;
  /** 503 degraded, naming the dependency */
  degradedSamples: number;
  okSamples: number;
  otherSamples: number;
  otherStates: string[];
  /** from the fault to the first answer naming the dependency */
  degradedAfterMs: number | null;
}

const ids = (ctx: ScenarioContext) => ctx.deployments.map((d) => d.id);

/** Waits (up to maxMs) until a ledger row is in INTENT or SUBMITTING; returns how many were (0 after the wait). */
export async function waitForOrderInFlight(ctx: ScenarioContext, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const r = await ctx.pool
      .query<{ n: number }>(`SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[]) AND state IN ('INTENT', 'SUBMITTING')`, [ids(ctx)])
      .catch(() => ({ rows: [{ n: 0 }] }));
    if (r.rows[0]!.n > 0 || Date.now() > deadline) return r.rows[0]!.n;
    await sleep(50);
  }
}

/** Polls /health samples and the audit rows until /health is ok and every deployment cycled after `upAt`. */
export async function recoveryAfter(ctx: ScenarioContext, upAt: number, timeoutMs: number): Promise<Recovery> {
  const monitor = ctx.api!.monitor;
  const out: Recovery = { healthOkAfterMs: null, firstCycleAfterMs: null, allDeploymentsCycledAfterMs: null };
  const deadline = upAt + timeoutMs;
  while (Date.now() < deadline && (out.healthOkAfterMs === null || out.allDeploymentsCycledAfterMs === null)) {
    if (out.healthOkAfterMs === null) {
      const ok = monitor.first(upAt, (s) => s.status === 'up');
      if (ok) out.healthOkAfterMs = ok.at + ok.latencyMs - upAt;
    }
    if (out.allDeploymentsCycledAfterMs === null) {
      const r = await ctx.pool
        .query<{ first: number }>(
          `SELECT (extract(epoch FROM min(created_at)) * 1000)::float8 AS first FROM deployment_cycles
           WHERE deployment_id = ANY($1::uuid[]) AND created_at >= to_timestamp($2::float8 / 1000) GROUP BY deployment_id`,
          [ids(ctx), upAt],
        )
        .catch(() => ({ rows: [] as Array<{ first: number }> }));
      const firsts = r.rows.map((x) => x.first);
      if (firsts.length && out.firstCycleAfterMs === null) out.firstCycleAfterMs = Math.max(0, Math.round(Math.min(...firsts) - upAt));
      if (firsts.length === ctx.deployments.length) out.allDeploymentsCycledAfterMs = Math.max(0, Math.round(Math.max(...firsts) - upAt));
    }
    await sleep(500);
  }
  return out;
}

/** What /health answered between 1 s after the fault and the start command (answers overlapping either edge are left out). */
export function outageHealth(monitor: ApiMonitor, w: Pick<OutageWindow, 'downAt' | 'startAt'>, dependency: string): HealthDuringOutage {
  const inside = monitor.between(w.downAt + 1_000, w.startAt).filter((s) => s.at + s.latencyMs < w.startAt);
  const names = (s: { status?: string; down?: string[] }) => (s.status === 'degraded' || s.status === 'down') && (s.down ?? []).includes(dependency);
  const other = inside.filter((s) => s.status !== 'up' && !names(s));
  const first = monitor.first(w.downAt, names);
  return {
    samples: inside.length,
    degradedSamples: inside.filter(names).length,
    okSamples: inside.filter((s) => s.status === 'up').length,
    otherSamples: other.length,
    otherStates: [...new Set(other.map(healthState))],
    degradedAfterMs: first && first.at < w.startAt ? first.at + first.latencyMs - w.downAt : null,
  };
}

/** Ledger rows created before the fault and changed after it: orders whose protocol the outage interrupted. */
export async function ordersSpanning(ctx: ScenarioContext, downAt: number): Promise<number> {
  const r = await ctx.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM order_ledger WHERE deployment_id = ANY($1::uuid[])
     AND created_at < to_timestamp($2::float8 / 1000) AND updated_at >= to_timestamp($2::float8 / 1000)`,
    [ids(ctx), downAt],
  );
  return r.rows[0]!.n;
}

/** Audit rows written in [fromMs, toMs), by outcome ("hold", "order", "skip: <reason code>", ...). */
export async function cycleOutcomesBetween(ctx: ScenarioContext, fromMs: number, toMs: number): Promise<Record<string, number>> {
  const r = await ctx.pool.query<{ outcome: string; n: number }>(
    `SELECT CASE WHEN action = 'skip' THEN 'skip: ' || split_part(coalesce(reason, ''), ':', 1) ELSE action END AS outcome, count(*)::int AS n
     FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[]) AND created_at >= to_timestamp($2::float8 / 1000) AND created_at < to_timestamp($3::float8 / 1000)
     GROUP BY 1 ORDER BY 2 DESC`,
    [ids(ctx), fromMs, toMs],
  );
  return Object.fromEntries(r.rows.map((x) => [x.outcome, x.n]));
}

/** What the result says about one outage. */
export interface OutageFigures {
  how: string;
  downAt: string;
  downMs: number;
  ordersInFlightAtFault?: number;
  ordersSpanningOutage: number;
  cyclesRecordedDuringOutage: Record<string, number>;
  health: HealthDuringOutage;
  recovery: Recovery;
}

/** R3's and R4's pass figures (reliability note §6): /health ok soon after the return, every deployment cycling again. */
export interface OutageLimits {
  healthOkWithinMs: number;
  cyclesWithinMs: number;
}

/** The figures and checks shared by R3 and R4: per-outage health and recovery, API answers, worker deaths. */
export async function verifyOutages(ctx: ScenarioContext, windows: OutageWindow[], dependency: 'postgres' | 'redis', limits: OutageLimits) {
  const why: string[] = [];
  const monitor = ctx.api!.monitor;
  const outages: OutageFigures[] = [];
  for (const [i, w] of windows.entries()) {
    const health = outageHealth(monitor, w, dependency);
    outages.push({
      how: w.how,
      downAt: new Date(w.downAt).toISOString(),
      downMs: w.upAt - w.downAt,
      ...(w.ordersInFlightAtFault !== undefined ? { ordersInFlightAtFault: w.ordersInFlightAtFault } : {}),
      ordersSpanningOutage: await ordersSpanning(ctx, w.downAt),
      cyclesRecordedDuringOutage: await cycleOutcomesBetween(ctx, w.downAt, w.upAt),
      health,
      recovery: w.recovery,
    });
    const n = `outage ${i + 1} (${w.how})`;
    if (health.okSamples) why.push(`${n}: /health said ok ${health.okSamples} times while ${dependency} was down`);
    if (health.otherSamples) why.push(`${n}: /health answered ${health.otherSamples} times without naming ${dependency} (${health.otherStates.join('; ')})`);
    if (w.startAt - w.downAt >= 3_000 && !health.degradedSamples) why.push(`${n}: /health never named ${dependency} as down`);
    if (w.recovery.healthOkAfterMs === null || w.recovery.healthOkAfterMs > limits.healthOkWithinMs) why.push(`${n}: /health not ok within ${limits.healthOkWithinMs / 1000} s of the return`);
    if (w.recovery.allDeploymentsCycledAfterMs === null || w.recovery.allDeploymentsCycledAfterMs > limits.cyclesWithinMs) {
      why.push(`${n}: not every deployment cycled within ${limits.cyclesWithinMs / 1000} s of the return`);
    }
  }
  const other5xx = Object.entries(monitor.dataRoute).filter(([code]) => Number(code) >= 500 && code !== '503').reduce((sum, [, k]) => sum + k, 0);
  if (other5xx) why.push(`the API's data route answered ${other5xx} times with a 5xx other than 503`);
  if (monitor.dataRoute503WithoutRetryAfter) why.push(`${monitor.dataRoute503WithoutRetryAfter} 503 answers without Retry-After`);
  if (ctx.supervisor.stats.restarts) why.push(`IO workers died ${ctx.supervisor.stats.restarts} times though nobody killed them`);
  const worst = (pick: (r: Recovery) => number | null) => {
    const xs = windows.map((w) => pick(w.recovery));
    return xs.some((x) => x === null) ? null : Math.max(...(xs as number[]));
  };
  return {
    figures: {
      outages,
      recoveryWorstMs: {
        healthOk: worst((r) => r.healthOkAfterMs),
        firstCycle: worst((r) => r.firstCycleAfterMs),
        allDeploymentsCycled: worst((r) => r.allDeploymentsCycledAfterMs),
      },
      cycleOutcomes: await cycleOutcomesBetween(ctx, 0, Date.now() + 86_400_000),
    },
    passed: why.length === 0,
    why,
  };
}
