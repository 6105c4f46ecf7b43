/**
 * What the runtime benchmark reads back from Postgres (each run has a fresh database, so every row is the run's).
 * Times: `deployment_cycles.created_at` is Postgres' now() of the recordCycle INSERT (the cycle recorded);
 * `paper_orders.created_at` is the paper broker's clock inside the transaction that accepted the order.
 * All processes share the host clock.
 */
import type { Queryable } from '../../db/sql/queryable';

/** Cycles recorded for the bar that closed at `barCloseMs` (data time). */
export async function countCyclesAt(db: Queryable, barCloseMs: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_cycles WHERE bar_close = to_timestamp($1::float8 / 1000.0)', [barCloseMs]);
  return rows[0]!.n;
}

export interface CycleOrderRow {
  deployment_id: string;
  bar_close_ms: number;
  recorded_ms: number;
  action: string;
  /** the decision's reason up to its first ':' (e.g. no-signal, stale-data), null for plain holds */
  reason_kind: string | null;
  /** client order ids the cycle lists (in batch mode its orders reach the ledger after the cycle is recorded) */
  order_ids: number;
  /** the ledger state of the cycle's order, null when the cycle placed none (yet) */
  order_state: string | null;
  /** when the paper broker accepted it, null when it never reached the broker */
  accepted_ms: number | null;
}

/**
 * Every cycle with a bar close in [fromMs, toMs] (data time), one row per order it placed (or one row without). An
 * order belongs to the cycle that lists its client order id, or whose number it carries: a batch-evaluated
 * deployment's order is placed by its own workflow after the evaluator recorded the cycle.
 */
export async function cyclesWithOrders(db: Queryable, fromMs: number, toMs: number): Promise<CycleOrderRow[]> {
  const { rows } = await db.query<CycleOrderRow & Record<string, unknown>>(
    `SELECT c.deployment_id, (extract(epoch FROM c.bar_close) * 1000)::float8 AS bar_close_ms,
            (extract(epoch FROM c.created_at) * 1000)::float8 AS recorded_ms, c.action, split_part(c.reason, ':', 1) AS reason_kind, cardinality(c.client_order_ids) AS order_ids,
            l.state AS order_state, (extract(epoch FROM p.created_at) * 1000)::float8 AS accepted_ms
     FROM deployment_cycles c
     LEFT JOIN order_ledger l ON l.deployment_id = c.deployment_id AND (l.client_order_id = ANY (c.client_order_ids) OR (l.cycle_seq = c.cycle_seq AND l.symbol = c.symbol))
     LEFT JOIN paper_orders p ON p.account = l.account_id AND p.client_order_id = l.client_order_id
     WHERE c.bar_close BETWEEN to_timestamp($1::float8 / 1000.0) AND to_timestamp($2::float8 / 1000.0)`,
    [fromMs, toMs],
  );
  return rows;
}

/** The server process serving this connection (its parent is the postmaster, for CPU accounting). */
export async function backendPid(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** The database this pool works in (its backends are the run's, on a shared server too). */
export async function databaseName(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
  return rows[0]!.name;
}
