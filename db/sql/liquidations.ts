import type { Queryable } from './queryable';

export const LIQUIDATION_STATUSES = ['scheduled', 'running', 'flat', 'not_flat'] as const;
export type LiquidationStatus = (typeof LIQUIDATION_STATUSES)[number];

/** One step as the workflow recorded it (reduce-only, cancel, close round, verify, lift). */
export interface LiquidationStep {
  step: string;
  /** data time, epoch ms */
  at: number;
  detail: Record<string, unknown>;
}

/** Verified flat or not, and what is left (each symbol, quantity and why). */
export interface LiquidationReport {
  flat: boolean;
  /** data time of the verification, epoch ms */
  verifiedAt: number;
  flatByMs: number;
  inTime: boolean;
  left: Array<{ broker: string; symbol: string; qty: number; why: string }>;
  orders: number;
  rounds: number;
}

export interface ReplayClock {
  dataStartMs: number;
  wallStartMs: number;
  speed: number;
}

export interface NewLiquidation {
  id: string;
  workflowId: string;
  accountId: string;
  tradingDay: string;
  calendar: string;
  trigger: 'schedule' | 'manual';
  requestedBy: string;
  reason: string;
  scope: 'account' | 'deployments';
  deploymentIds: string[];
  brokers: string[];
  marginMinutes: number;
  closeAtMs: number;
  reduceOnlyAtMs: number;
  flatByMs: number;
  liftsAtMs: number;
  clock?: ReplayClock;
}

export interface Liquidation extends NewLiquidation {
  status: LiquidationStatus;
  steps: LiquidationStep[];
  report: LiquidationReport | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  liftedAt: Date | null;
}

/** liquidations as pg returns it. */
interface LiquidationRow {
  id: string;
  workflow_id: string;
  account_id: string;
  trading_day: string;
  calendar: string;
  trigger: 'schedule' | 'manual';
  requested_by: string;
  reason: string;
  scope: 'account' | 'deployments';
  deployment_ids: string[];
  brokers: string[];
  margin_minutes: number;
  close_at: Date;
  reduce_only_at: Date;
  flat_by: Date;
  lifts_at: Date;
  clock: ReplayClock | null;
  status: LiquidationStatus;
  steps: LiquidationStep[];
  report: LiquidationReport | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  lifted_at: Date | null;
}

/** The one place a liquidations row's columns become a liquidation's fields. */
function liquidationRowToLiquidation(r: LiquidationRow): Liquidation {
  return {
    id: r.id, workflowId: r.workflow_id, accountId: r.account_id, tradingDay: r.trading_day, calendar: r.calendar, trigger: r.trigger,
    requestedBy: r.requested_by, reason: r.reason, scope: r.scope, deploymentIds: r.deployment_ids, brokers: r.brokers, marginMinutes: r.margin_minutes,
    closeAtMs: r.close_at.getTime(), reduceOnlyAtMs: r.reduce_only_at.getTime(), flatByMs: r.flat_by.getTime(), liftsAtMs: r.lifts_at.getTime(),
    ...(r.clock ? { clock: r.clock } : {}), status: r.status, steps: r.steps, report: r.report,
    createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at, liftedAt: r.lifted_at,
  };
}

type Row = LiquidationRow & Record<string, unknown>;
/** trading_day as 'YYYY-MM-DD' text (pg would make a Date at local midnight of it). */
const COLUMNS = `id, workflow_id, account_id, trading_day::text AS trading_day, calendar, trigger, requested_by, reason, scope, deployment_ids::text[] AS deployment_ids,
  brokers, margin_minutes, close_at, reduce_only_at, flat_by, lifts_at, clock, status, steps, report, created_at, started_at, finished_at, lifted_at`;
const ms = (t: number) => new Date(t).toISOString();

/** Records a liquidation unless one exists for the account and day (two triggers make one): the row, or undefined. */
export async function insertLiquidation(db: Queryable, l: NewLiquidation): Promise<Liquidation | undefined> {
  const { rows } = await db.query<Row>(
    `INSERT INTO liquidations (id, workflow_id, account_id, trading_day, calendar, trigger, requested_by, reason, scope, deployment_ids, brokers,
       margin_minutes, close_at, reduce_only_at, flat_by, lifts_at, clock)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::uuid[], $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (account_id, trading_day) DO NOTHING RETURNING ${COLUMNS}`,
    [l.id, l.workflowId, l.accountId, l.tradingDay, l.calendar, l.trigger, l.requestedBy, l.reason, l.scope, l.deploymentIds, l.brokers, l.marginMinutes,
      ms(l.closeAtMs), ms(l.reduceOnlyAtMs), ms(l.flatByMs), ms(l.liftsAtMs), l.clock ? JSON.stringify(l.clock) : null],
  );
  return rows[0] && liquidationRowToLiquidation(rows[0]);
}

/** The liquidation of an account on a trading day. */
export async function getLiquidationForDay(db: Queryable, accountId: string, tradingDay: string): Promise<Liquidation | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM liquidations WHERE account_id = $1 AND trading_day = $2`, [accountId, tradingDay]);
  return rows[0] && liquidationRowToLiquidation(rows[0]);
}

export async function getLiquidation(db: Queryable, id: string): Promise<Liquidation | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM liquidations WHERE id = $1`, [id]);
  return rows[0] && liquidationRowToLiquidation(rows[0]);
}

/** Liquidations, newest day first, optionally by account and day. */
export async function listLiquidations(db: Queryable, filter: { accountId?: string; date?: string }, limit: number, offset: number): Promise<Liquidation[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM liquidations WHERE ($1::text IS NULL OR account_id = $1) AND ($2::date IS NULL OR trading_day = $2)
     ORDER BY trading_day DESC, account_id LIMIT $3 OFFSET $4`,
    [filter.accountId ?? null, filter.date ?? null, limit, offset],
  );
  return rows.map(liquidationRowToLiquidation);
}

/** scheduled -> running (the first time the workflow starts on it). */
export async function markLiquidationRunning(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE liquidations SET status = 'running', started_at = coalesce(started_at, now()) WHERE id = $1 AND status = 'scheduled'`, [id]);
}

/** Appends a step unless one with the same name and time is there (an activity retry records it once). */
export async function appendLiquidationStep(db: Queryable, id: string, step: LiquidationStep): Promise<void> {
  await db.query(
    `UPDATE liquidations SET steps = steps || jsonb_build_array($2::jsonb)
     WHERE id = $1 AND NOT steps @> jsonb_build_array(jsonb_build_object('step', $3::text, 'at', $4::bigint))`,
    [id, JSON.stringify(step), step.step, step.at],
  );
}

/** The verdict: flat (by the flat-by time) or not_flat, with the report (a retry writes the same). */
export async function finishLiquidationRow(db: Queryable, id: string, report: LiquidationReport): Promise<void> {
  await db.query(`UPDATE liquidations SET status = $2, report = $3, finished_at = coalesce(finished_at, now()) WHERE id = $1`, [id, report.flat && report.inTime ? 'flat' : 'not_flat', JSON.stringify(report)]);
}

export async function markLiquidationLifted(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE liquidations SET lifted_at = coalesce(lifted_at, now()) WHERE id = $1', [id]);
}
