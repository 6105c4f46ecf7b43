import { DEPLOYMENT_STATUSES, type DeploymentStatus } from '../../domain/deployment/commands';
import type { DeploymentSpec, ReplayClockSpec } from '../../domain/deployment/spec';
import type { HaltScope } from './trading-halts';
import type { LedgerRow, LedgerState } from './order-ledger';
import type { Queryable } from './queryable';

export { DEPLOYMENT_STATUSES };
export type DeploymentRowStatus = DeploymentStatus;

export interface DeploymentRow {
  id: string;
  workflow_id: string;
  account_id: string;
  broker: string;
  strategy: string;
  spec: DeploymentSpec;
  params_version: number;
  status: DeploymentRowStatus;
  /** why it is in this status (a failure's cause, a stop's reason), null when nobody said */
  status_reason: string | null;
  /** the replay clock it was created with; null when it trades live */
  replay_clock: ReplayClockSpec | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  /** from the creation audit row (the table has no name column) */
  name: string | null;
}

export interface NewDeployment {
  id: string;
  workflowId: string;
  spec: DeploymentSpec;
  createdBy: string;
  replayClock?: ReplayClockSpec;
}

/** The creation audit row carries the optional display name; every read picks it up from there. */
const NAME = `(SELECT a.detail->>'name' FROM audit_log a WHERE a.action = 'deployment.create' AND a.subject = d.id::text ORDER BY a.id LIMIT 1) AS name`;

/** Records a new deployment (status running, params version 1). */
export async function insertDeployment(db: Queryable, d: NewDeployment): Promise<void> {
  await db.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, params_version, status, created_by, replay_clock)
     VALUES ($1, $2, $3, $4, $5, $6, 1, 'running', $7, $8)`,
    [d.id, d.workflowId, d.spec.accountId, d.spec.broker, d.spec.strategy, JSON.stringify(d.spec), d.createdBy, d.replayClock ? JSON.stringify(d.replayClock) : null],
  );
}

/** Stores one params version of a deployment (a retried write of the same version stores nothing). */
export async function insertDeploymentParams(
  db: Queryable,
  deploymentId: string,
  version: number,
  params: Record<string, number | boolean>,
  createdBy: string,
): Promise<void> {
  await db.query('INSERT INTO deployment_params (deployment_id, version, params, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
    deploymentId,
    version,
    JSON.stringify(params),
    createdBy,
  ]);
}

export async function getDeployment(db: Queryable, id: string): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow & Record<string, unknown>>(`SELECT d.*, ${NAME} FROM deployments d WHERE d.id = $1`, [id]);
  return rows[0];
}

/** The row, locked until the end of the caller's transaction (control actions and params updates serialize on it). */
export async function lockDeployment(db: Queryable, id: string): Promise<DeploymentRow | undefined> {
  const { rows } = await db.query<DeploymentRow & Record<string, unknown>>(`SELECT d.*, ${NAME} FROM deployments d WHERE d.id = $1 FOR UPDATE OF d`, [id]);
  return rows[0];
}

/** Deployments, newest first, optionally by status and account. */
export async function listDeployments(
  db: Queryable,
  filter: { status?: DeploymentRowStatus; accountId?: string },
  limit: number,
  offset: number,
): Promise<DeploymentRow[]> {
  const { rows } = await db.query<DeploymentRow & Record<string, unknown>>(
    `SELECT d.*, ${NAME} FROM deployments d
     WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.account_id = $2)
     ORDER BY d.created_at DESC, d.id LIMIT $3 OFFSET $4`,
    [filter.status ?? null, filter.accountId ?? null, limit, offset],
  );
  return rows;
}

export async function setDeploymentRowStatus(db: Queryable, id: string, status: DeploymentRowStatus, reason: string | null = null): Promise<void> {
  await db.query('UPDATE deployments SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1', [id, status, reason]);
}

/** Status and params version as the runtime applied them (one statement, so the row never shows half of a change). */
export async function setDeploymentRuntimeState(db: Queryable, id: string, s: { status: DeploymentRowStatus; reason: string | null; paramsVersion: number }): Promise<void> {
  await db.query('UPDATE deployments SET status = $2, status_reason = $3, params_version = $4, updated_at = now() WHERE id = $1', [id, s.status, s.reason, s.paramsVersion]);
}

export async function getDeploymentParams(db: Queryable, deploymentId: string, version: number): Promise<Record<string, number | boolean> | undefined> {
  const { rows } = await db.query<{ params: Record<string, number | boolean> }>(
    'SELECT params FROM deployment_params WHERE deployment_id = $1 AND version = $2',
    [deploymentId, version],
  );
  return rows[0]?.params;
}

export interface CycleRow {
  cycle_seq: number;
  symbol: string;
  bar_close: Date;
  action: string;
  reason: string | null;
  signal: number | null;
  indicators: Record<string, number>;
  risk: Record<string, unknown> | null;
  client_order_ids: string[];
  params_version: number;
  position_qty: number | null;
  realized_pnl: number | null;
  latency_ms: number | null;
  created_at: Date;
}

/** The latest cycle audit rows of a deployment, newest first. */
export async function recentCycles(db: Queryable, deploymentId: string, limit: number): Promise<CycleRow[]> {
  const { rows } = await db.query<CycleRow & Record<string, unknown>>(
    `SELECT cycle_seq, symbol, bar_close, action, reason, signal, indicators, risk, client_order_ids, params_version, position_qty, realized_pnl, latency_ms, created_at
     FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq DESC, symbol LIMIT $2`,
    [deploymentId, limit],
  );
  return rows;
}

/** A ledger row as the API shows it (the intent hash stays internal). */
export type OrderRow = Omit<LedgerRow, 'intent_hash'>;

/** Ledger rows, newest first, optionally by deployment, symbol and state. */
export async function listOrders(
  db: Queryable,
  filter: { deploymentId?: string; symbol?: string; state?: LedgerState },
  limit: number,
  offset: number,
): Promise<OrderRow[]> {
  const { rows } = await db.query<OrderRow & Record<string, unknown>>(
    `SELECT client_order_id, deployment_id, workflow_id, cycle_seq, leg, intent_version, broker, account_id, symbol, side, qty, order_type,
            limit_price, time_in_force, state, broker_order_id, filled_qty, avg_fill_price, reject_reason, submit_attempts, created_at, updated_at
     FROM order_ledger
     WHERE ($1::uuid IS NULL OR deployment_id = $1) AND ($2::text IS NULL OR symbol = $2) AND ($3::text IS NULL OR state = $3)
     ORDER BY created_at DESC, client_order_id LIMIT $4 OFFSET $5`,
    [filter.deploymentId ?? null, filter.symbol ?? null, filter.state ?? null, limit, offset],
  );
  return rows;
}

export interface FillRow {
  broker: string;
  broker_fill_id: string;
  client_order_id: string;
  deployment_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  ts: Date;
}

/** Fills, newest first, optionally by deployment and symbol. */
export async function listFills(db: Queryable, filter: { deploymentId?: string; symbol?: string }, limit: number, offset: number): Promise<FillRow[]> {
  const { rows } = await db.query<FillRow & Record<string, unknown>>(
    `SELECT broker, broker_fill_id, client_order_id, deployment_id, symbol, side, qty, price, ts FROM fills
     WHERE ($1::uuid IS NULL OR deployment_id = $1) AND ($2::text IS NULL OR symbol = $2)
     ORDER BY ts DESC, broker, broker_fill_id LIMIT $3 OFFSET $4`,
    [filter.deploymentId ?? null, filter.symbol ?? null, limit, offset],
  );
  return rows;
}

export interface PositionRow {
  deployment_id: string;
  account_id: string;
  symbol: string;
  qty: number;
  cash_flow: number;
  fills: number;
  last_fill_at: Date;
}

/** Quantity and cash flow (sells add, buys subtract) per deployment and symbol, from the fills; optionally by deployment or account. */
export async function listPositions(db: Queryable, filter: { deploymentId?: string; accountId?: string }, limit: number, offset: number): Promise<PositionRow[]> {
  const { rows } = await db.query<{ deployment_id: string; account_id: string; symbol: string; qty: number; cash_flow: number; fills: string; last_fill_at: Date }>(
    `SELECT f.deployment_id, d.account_id, f.symbol,
            sum(CASE WHEN f.side = 'buy' THEN f.qty ELSE -f.qty END)::float8 AS qty,
            sum(CASE WHEN f.side = 'buy' THEN -f.qty * f.price ELSE f.qty * f.price END)::float8 AS cash_flow,
            count(*) AS fills, max(f.ts) AS last_fill_at
     FROM fills f JOIN deployments d ON d.id = f.deployment_id
     WHERE ($1::uuid IS NULL OR f.deployment_id = $1) AND ($2::text IS NULL OR d.account_id = $2)
     GROUP BY f.deployment_id, d.account_id, f.symbol
     ORDER BY d.account_id, f.deployment_id, f.symbol LIMIT $3 OFFSET $4`,
    [filter.deploymentId ?? null, filter.accountId ?? null, limit, offset],
  );
  return rows.map((r) => ({ ...r, qty: Number(r.qty), cash_flow: Number(r.cash_flow), fills: Number(r.fills) }));
}

export interface HaltRow {
  scope: HaltScope;
  scope_id: string;
  active: boolean;
  reason: string;
  set_by: string;
  set_at: Date;
}

/** Kill-switch scopes that are on. */
export async function listActiveHalts(db: Queryable): Promise<HaltRow[]> {
  const { rows } = await db.query<HaltRow & Record<string, unknown>>(
    `SELECT scope, scope_id, active, reason, set_by, set_at FROM trading_halts WHERE active
     ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'account' THEN 1 ELSE 2 END, scope_id`,
  );
  return rows;
}

/** Kill-switch scopes that are on for this deployment: global, its account, itself. */
export async function activeHaltsFor(db: Queryable, accountId: string, deploymentId: string): Promise<HaltRow[]> {
  const { rows } = await db.query<HaltRow & Record<string, unknown>>(
    `SELECT scope, scope_id, active, reason, set_by, set_at FROM trading_halts
     WHERE active AND ((scope = 'global' AND scope_id = '') OR (scope = 'account' AND scope_id = $1) OR (scope = 'deployment' AND scope_id = $2))
     ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'account' THEN 1 ELSE 2 END`,
    [accountId, deploymentId],
  );
  return rows;
}
