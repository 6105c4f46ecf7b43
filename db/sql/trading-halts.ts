import type { KillSwitchScope, KillSwitchState } from '../../domain/risk/gate';
import type { Queryable } from './queryable';

/** A kill-switch scope as routes see it. */
export interface Halt {
  scope: KillSwitchScope;
  /** the account or deployment id; '' for the global scope */
  scopeId: string;
  active: boolean;
  reason: string;
  setBy: string;
  setAt: Date;
}

/** trading_halts as pg returns it. */
interface HaltRow {
  scope: KillSwitchScope;
  scope_id: string;
  active: boolean;
  reason: string;
  set_by: string;
  set_at: Date;
}

/** The one place a trading_halts row's columns become a halt's fields. */
function haltRowToHalt(r: HaltRow): Halt {
  return { scope: r.scope, scopeId: r.scope_id, active: r.active, reason: r.reason, setBy: r.set_by, setAt: r.set_at };
}

/**
 * The kill-switch scopes on for account $1 and deployment $2, and 'eod' when an end-of-day reduce-only window is open
 * for either: one row per scope on (activeHalts, and the submission's row lock in submission-gate.ts, read it).
 */
export const ACTIVE_HALT_SCOPES = `SELECT scope FROM trading_halts WHERE active AND ((scope = 'global' AND scope_id = '') OR (scope = 'account' AND scope_id = $1) OR (scope = 'deployment' AND scope_id = $2))
     UNION ALL
     SELECT 'eod' FROM eod_reduce_only WHERE lifted_at IS NULL AND ((scope = 'account' AND scope_id = $1) OR (scope = 'deployment' AND scope_id = $2))`;

/** The scopes ACTIVE_HALT_SCOPES returned, as a kill-switch state. */
export function haltsOf(scopes: ReadonlyArray<string>): KillSwitchState {
  const on = new Set(scopes);
  return { global: on.has('global'), account: on.has('account'), deployment: on.has('deployment'), eod: on.has('eod') };
}

/**
 * Which kill-switch scopes are on for this account and deployment, and whether an end-of-day reduce-only window is
 * open for either (eod_reduce_only): one indexed read, right before a broker call.
 */
export async function activeHalts(db: Queryable, accountId: string, deploymentId: string): Promise<KillSwitchState> {
  const { rows } = await db.query<{ scope: KillSwitchScope | 'eod' }>(ACTIVE_HALT_SCOPES, [accountId, deploymentId]);
  return haltsOf(rows.map((r) => r.scope));
}

/**
 * The advisory lock that orders broker submissions against kill-switch changes: every submission holds it
 * shared from its halt check until the broker has answered; a change takes it exclusively. So once a halt is
 * committed, no submission that checked before it is still in flight.
 */
export const TRADING_GATE_LOCK = 7_301_001;

/**
 * Begins a transaction on this client and takes the trading gate shared until it ends (a submission in flight). One
 * round trip: a query without parameters goes as one simple query, whose statements run in order, and the
 * transaction BEGIN opens stays open after it. The gate is still a statement of its own, before the caller's check.
 */
export async function beginHoldingTradingGate(db: Queryable): Promise<void> {
  await db.query(`BEGIN; SELECT pg_advisory_xact_lock_shared(${TRADING_GATE_LOCK})`);
}

/**
 * Turns one scope on or off. It waits for submissions in flight (the gate, exclusively) and holds the gate
 * until its transaction commits, so no order checked before the change is sent after it.
 */
export async function setHalt(db: Queryable, scope: KillSwitchScope, scopeId: string, active: boolean, reason: string, setBy: string): Promise<{ setAt: Date }> {
  const { rows } = await db.query<{ set_at: Date }>(
    `INSERT INTO trading_halts (scope, scope_id, active, reason, set_by)
     SELECT $1, $2, $3, $4, $5 FROM (SELECT pg_advisory_xact_lock($6)) AS gate
     ON CONFLICT (scope, scope_id) DO UPDATE SET active = EXCLUDED.active, reason = EXCLUDED.reason, set_by = EXCLUDED.set_by, set_at = now()
     RETURNING set_at`,
    [scope, scope === 'global' ? '' : scopeId, active, reason, setBy, TRADING_GATE_LOCK],
  );
  return { setAt: rows[0]!.set_at };
}

/** Takes the trading gate exclusively until the transaction ends (what setHalt does), so a read after it is current. */
export async function takeTradingGate(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [TRADING_GATE_LOCK]);
}

/** Whether one scope is on now (false when it was never set). */
export async function haltIsActive(db: Queryable, scope: KillSwitchScope, scopeId: string): Promise<boolean> {
  const { rows } = await db.query<{ active: boolean }>('SELECT active FROM trading_halts WHERE scope = $1 AND scope_id = $2', [scope, scope === 'global' ? '' : scopeId]);
  return rows[0]?.active ?? false;
}

/** Kill-switch scopes that are on. */
export async function listActiveHalts(db: Queryable): Promise<Halt[]> {
  const { rows } = await db.query<HaltRow & Record<string, unknown>>(
    `SELECT scope, scope_id, active, reason, set_by, set_at FROM trading_halts WHERE active
     ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'account' THEN 1 ELSE 2 END, scope_id`,
  );
  return rows.map(haltRowToHalt);
}

/** Kill-switch scopes that are on for this deployment: global, its account, itself. */
export async function activeHaltsFor(db: Queryable, accountId: string, deploymentId: string): Promise<Halt[]> {
  const { rows } = await db.query<HaltRow & Record<string, unknown>>(
    `SELECT scope, scope_id, active, reason, set_by, set_at FROM trading_halts
     WHERE active AND ((scope = 'global' AND scope_id = '') OR (scope = 'account' AND scope_id = $1) OR (scope = 'deployment' AND scope_id = $2))
     ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'account' THEN 1 ELSE 2 END`,
    [accountId, deploymentId],
  );
  return rows.map(haltRowToHalt);
}
