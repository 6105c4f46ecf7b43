import { prepared, type Queryable } from './queryable';

/** One cycle's audit row for one symbol: why, when, with which params and what came of it. */
export interface CycleAudit {
  deploymentId: string;
  cycle: number;
  symbol: string;
  /** epoch ms of the bar close the cycle ran at */
  barCloseMs: number;
  action: string;
  reason: string | null;
  /** null when the strategy gave none (or a non-finite one) */
  signal: number | null;
  indicators: Record<string, number>;
  risk: Record<string, unknown> | null;
  clientOrderIds: string[];
  paramsVersion: number;
  positionQty: number;
  realizedPnl: number;
  latencyMs: number;
}

/** A cycle row as routes see it. */
export interface Cycle extends Omit<CycleAudit, 'deploymentId' | 'barCloseMs' | 'positionQty' | 'realizedPnl' | 'latencyMs'> {
  barClose: Date;
  positionQty: number | null;
  realizedPnl: number | null;
  latencyMs: number | null;
  createdAt: Date;
}

/** deployment_cycles as pg returns it (without deployment_id, which the reader knows). */
interface CycleRow {
  cycle_seq: number;
  symbol: string;
  bar_close: Date;
  action: string;
  reason: string | null;
  signal: number | null;
  indicators: Record<string, number> | null;
  risk: Record<string, unknown> | null;
  client_order_ids: string[] | null;
  params_version: number;
  position_qty: number | null;
  realized_pnl: number | null;
  latency_ms: number | null;
  created_at: Date;
}

/** The one place a deployment_cycles row's columns become a cycle's fields. */
function cycleRowToCycle(r: CycleRow): Cycle {
  return {
    cycle: r.cycle_seq,
    symbol: r.symbol,
    barClose: r.bar_close,
    action: r.action,
    reason: r.reason,
    signal: r.signal,
    indicators: r.indicators ?? {},
    risk: r.risk,
    clientOrderIds: r.client_order_ids ?? [],
    paramsVersion: r.params_version,
    positionQty: r.position_qty,
    realizedPnl: r.realized_pnl,
    latencyMs: r.latency_ms,
    createdAt: r.created_at,
  };
}

/**
 * Writes the row, or rewrites it when this cycle and symbol have one (a retried attempt whose workflow task ran its
 * reads again may have decided differently: the last write is what the history says).
 */
export async function upsertCycle(db: Queryable, c: CycleAudit): Promise<void> {
  await db.query(UPSERT_CYCLE, upsertParams(c));
}

/**
 * upsertCycle and the end of the deployment action it is the last row of, in one statement: the row and its action's
 * end commit together (a retry rewrites the row; the action, ended already, stays as it is).
 */
export async function upsertCycleFinishingAction(db: Queryable, c: CycleAudit, finish: { actionId: string; state: 'done' | 'expired' }): Promise<void> {
  await db.query(UPSERT_CYCLE_FINISHING_ACTION, [...upsertParams(c), finish.actionId, finish.state]);
}

const upsertParams = (c: CycleAudit) => [
  c.deploymentId, c.cycle, c.symbol, c.barCloseMs, c.action, c.reason, c.signal, JSON.stringify(c.indicators), c.risk ? JSON.stringify(c.risk) : null,
  c.clientOrderIds, c.paramsVersion, c.positionQty, c.realizedPnl, c.latencyMs,
];

const UPSERT_CYCLE_TEXT = `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, reason, signal, indicators, risk, client_order_ids, params_version, position_qty, realized_pnl, latency_ms)
     VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000.0), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (deployment_id, cycle_seq, symbol) DO UPDATE SET
       bar_close = EXCLUDED.bar_close, action = EXCLUDED.action, reason = EXCLUDED.reason, signal = EXCLUDED.signal,
       indicators = EXCLUDED.indicators, risk = EXCLUDED.risk, client_order_ids = EXCLUDED.client_order_ids,
       params_version = EXCLUDED.params_version, position_qty = EXCLUDED.position_qty, realized_pnl = EXCLUDED.realized_pnl, latency_ms = EXCLUDED.latency_ms`;

/** upsertCycle's statement, named: every acting deployment writes its row (see PreparedStatement). */
const UPSERT_CYCLE = prepared('cycles-upsert', UPSERT_CYCLE_TEXT);

/** The same, with the action's end (db/sql/deployment-actions.ts finishAction) as a data-modifying CTE. */
const UPSERT_CYCLE_FINISHING_ACTION = prepared(
  'cycles-upsert-finishing-action',
  `WITH finished AS (UPDATE deployment_actions SET state = $16, done_at = now() WHERE id = $15 AND state = 'pending') ${UPSERT_CYCLE_TEXT}`,
);

/** The latest cycle audit rows of a deployment, newest first. */
export async function recentCycles(db: Queryable, deploymentId: string, limit: number): Promise<Cycle[]> {
  const { rows } = await db.query<CycleRow & Record<string, unknown>>(
    `SELECT cycle_seq, symbol, bar_close, action, reason, signal, indicators, risk, client_order_ids, params_version, position_qty, realized_pnl, latency_ms, created_at
     FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq DESC, symbol LIMIT $2`,
    [deploymentId, limit],
  );
  return rows.map(cycleRowToCycle);
}

/** Where a page of cycles starts: the last row of the page before (bar close as Postgres prints it, to the microsecond). */
export interface CycleKey {
  barClose: string;
  cycle: number;
  symbol: string;
}

export interface CycleFilter {
  actions?: readonly string[];
  /** inclusive bar-close bounds, ISO */
  from?: string;
  to?: string;
  after?: CycleKey;
}

/**
 * A page of a deployment's cycle rows, newest bar close first (then cycle and symbol, descending, so the order is
 * total and a key splits it with no row twice or lost). Served by deployment_cycles_by_close (or _by_action).
 */
export async function cyclePage(db: Queryable, deploymentId: string, f: CycleFilter, limit: number): Promise<Array<Cycle & { key: CycleKey }>> {
  const { rows } = await db.query<CycleRow & { bar_close_key: string } & Record<string, unknown>>(
    `SELECT cycle_seq, symbol, bar_close, action, reason, signal, indicators, risk, client_order_ids, params_version, position_qty, realized_pnl, latency_ms, created_at,
            to_char(bar_close AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS bar_close_key
     FROM deployment_cycles
     WHERE deployment_id = $1
       AND ($2::text[] IS NULL OR action = ANY($2::text[]))
       AND ($3::timestamptz IS NULL OR bar_close >= $3::timestamptz)
       AND ($4::timestamptz IS NULL OR bar_close <= $4::timestamptz)
       AND ($5::timestamptz IS NULL OR (bar_close, cycle_seq, symbol) < ($5::timestamptz, $6::integer, $7::text))
     ORDER BY bar_close DESC, cycle_seq DESC, symbol DESC
     LIMIT $8`,
    [deploymentId, f.actions ?? null, f.from ?? null, f.to ?? null, f.after?.barClose ?? null, f.after?.cycle ?? null, f.after?.symbol ?? null, limit],
  );
  return rows.map((r) => ({ ...cycleRowToCycle(r), key: { barClose: r.bar_close_key, cycle: r.cycle_seq, symbol: r.symbol } }));
}

/**
 * A bar close's rows for many deployments in one statement (the batch evaluator's). A row already there is left as it
 * is: the evaluator writes a (deployment, cycle) once, guarded by the risk state's last bar close.
 */
export async function insertCycles(db: Queryable, rows: CycleAudit[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO deployment_cycles (deployment_id, cycle_seq, symbol, bar_close, action, reason, signal, indicators, risk, client_order_ids, params_version, position_qty, realized_pnl, latency_ms)
     SELECT r."deploymentId", r.cycle, r.symbol, to_timestamp(r."barCloseMs"::float8 / 1000.0), r.action, r.reason, r.signal, coalesce(r.indicators, '{}'), r.risk,
            r."clientOrderIds", r."paramsVersion", r."positionQty", r."realizedPnl", r."latencyMs"
     FROM jsonb_to_recordset($1::jsonb) AS r("deploymentId" uuid, cycle integer, symbol text, "barCloseMs" bigint, action text, reason text, signal float8, indicators jsonb,
          risk jsonb, "clientOrderIds" text[], "paramsVersion" integer, "positionQty" float8, "realizedPnl" float8, "latencyMs" integer)
     ON CONFLICT (deployment_id, cycle_seq, symbol) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}
