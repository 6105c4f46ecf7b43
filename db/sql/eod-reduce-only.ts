import type { Queryable } from './queryable';

/** A reduce-only window a liquidation opened (until the next session's open). */
export interface ReduceOnlyWindow {
  scope: 'account' | 'deployment';
  scopeId: string;
  tradingDay: string;
  liquidationId: string;
  since: Date;
  liftsAt: Date;
}

/** eod_reduce_only as pg returns it. */
interface ReduceOnlyRow {
  scope: 'account' | 'deployment';
  scope_id: string;
  trading_day: string;
  liquidation_id: string;
  since: Date;
  lifts_at: Date;
}

function reduceOnlyRowToWindow(r: ReduceOnlyRow): ReduceOnlyWindow {
  return { scope: r.scope, scopeId: r.scope_id, tradingDay: r.trading_day, liquidationId: r.liquidation_id, since: r.since, liftsAt: r.lifts_at };
}

/**
 * Opens the reduce-only windows of a liquidation (one per scope id). Like a kill-switch change it takes the trading
 * gate exclusively (TRADING_GATE_LOCK, see trading-halts.ts) and holds it until the commit: no entry checked before
 * the window opened reaches the broker after it. Re-opening (a retry) changes nothing.
 */
export async function openReduceOnly(db: Queryable, w: { scope: 'account' | 'deployment'; scopeIds: string[]; tradingDay: string; liquidationId: string; liftsAtMs: number; gateLock: number }): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO eod_reduce_only (scope, scope_id, trading_day, liquidation_id, lifts_at)
     SELECT $1, id, $3, $4, $5 FROM unnest($2::text[]) AS id, (SELECT pg_advisory_xact_lock($6)) AS gate
     ON CONFLICT (scope, scope_id, trading_day) DO NOTHING`,
    [w.scope, w.scopeIds, w.tradingDay, w.liquidationId, new Date(w.liftsAtMs).toISOString(), w.gateLock],
  );
  return rowCount ?? 0;
}

/** Lifts a liquidation's windows (at the next session's open). Returns how many it lifted. */
export async function liftReduceOnly(db: Queryable, liquidationId: string): Promise<number> {
  const { rowCount } = await db.query('UPDATE eod_reduce_only SET lifted_at = now() WHERE liquidation_id = $1 AND lifted_at IS NULL', [liquidationId]);
  return rowCount ?? 0;
}

/**
 * Lifts every window due by `asOfMs` (data time): the scheduler's safety net at each open. A scheduler on a replay
 * clock (a test, a rehearsal) lifts only windows of liquidations on a replay clock, and the wall-clock one only the others.
 */
export async function liftDueReduceOnly(db: Queryable, asOfMs: number, replayClock: boolean): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE eod_reduce_only w SET lifted_at = now() FROM liquidations l
     WHERE w.liquidation_id = l.id AND w.lifted_at IS NULL AND w.lifts_at <= $1 AND (l.clock IS NOT NULL) = $2`,
    [new Date(asOfMs).toISOString(), replayClock],
  );
  return rowCount ?? 0;
}

/** The windows open for this account or deployment (the deployment's blockers). */
export async function activeReduceOnlyFor(db: Queryable, accountId: string, deploymentId: string): Promise<ReduceOnlyWindow[]> {
  const { rows } = await db.query<ReduceOnlyRow & Record<string, unknown>>(
    `SELECT scope, scope_id, trading_day::text AS trading_day, liquidation_id, since, lifts_at FROM eod_reduce_only
     WHERE lifted_at IS NULL AND ((scope = 'account' AND scope_id = $1) OR (scope = 'deployment' AND scope_id = $2)) ORDER BY since`,
    [accountId, deploymentId],
  );
  return rows.map(reduceOnlyRowToWindow);
}

/** Which of these deployments an open window covers (by account or by deployment): the API shows them 'exiting'. */
export async function reduceOnlyDeployments(db: Queryable, deployments: Array<{ id: string; accountId: string }>): Promise<Set<string>> {
  if (deployments.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT d.id FROM unnest($1::text[], $2::text[]) AS d (id, account_id)
     WHERE EXISTS (SELECT 1 FROM eod_reduce_only w WHERE w.lifted_at IS NULL AND ((w.scope = 'account' AND w.scope_id = d.account_id) OR (w.scope = 'deployment' AND w.scope_id = d.id)))`,
    [deployments.map((d) => d.id), deployments.map((d) => d.accountId)],
  );
  return new Set(rows.map((r) => r.id));
}
