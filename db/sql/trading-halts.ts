import type { Queryable } from './queryable';

export type HaltScope = 'global' | 'account' | 'deployment';

export interface ActiveHalts {
  global: boolean;
  account: boolean;
  deployment: boolean;
}

/** Which kill-switch scopes are on for this account and deployment (one indexed read, right before a broker call). */
export async function activeHalts(db: Queryable, accountId: string, deploymentId: string): Promise<ActiveHalts> {
  const { rows } = await db.query<{ scope: HaltScope }>(
    `SELECT scope FROM trading_halts WHERE active AND ((scope = 'global' AND scope_id = '') OR (scope = 'account' AND scope_id = $1) OR (scope = 'deployment' AND scope_id = $2))`,
    [accountId, deploymentId],
  );
  const on = new Set(rows.map((r) => r.scope));
  return { global: on.has('global'), account: on.has('account'), deployment: on.has('deployment') };
}

/**
 * The advisory lock that orders broker submissions against kill-switch changes: every submission holds it
 * shared from its halt check until the broker has answered; a change takes it exclusively. So once a halt is
 * committed, no submission that checked before it is still in flight.
 */
export const TRADING_GATE_LOCK = 7_301_001;

/** Takes the trading gate shared until the end of the current transaction (a submission in flight). */
export async function holdTradingGate(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock_shared($1)', [TRADING_GATE_LOCK]);
}

/**
 * Turns one scope on or off. It waits for submissions in flight (the gate, exclusively) and holds the gate
 * until its transaction commits, so no order checked before the change is sent after it.
 */
export async function setHalt(db: Queryable, scope: HaltScope, scopeId: string, active: boolean, reason: string, setBy: string): Promise<void> {
  await db.query(
    `INSERT INTO trading_halts (scope, scope_id, active, reason, set_by)
     SELECT $1, $2, $3, $4, $5 FROM (SELECT pg_advisory_xact_lock($6)) AS gate
     ON CONFLICT (scope, scope_id) DO UPDATE SET active = EXCLUDED.active, reason = EXCLUDED.reason, set_by = EXCLUDED.set_by, set_at = now()`,
    [scope, scope === 'global' ? '' : scopeId, active, reason, setBy, TRADING_GATE_LOCK],
  );
}

/** Appends an audit record. */
export async function insertAudit(db: Queryable, actor: string, action: string, subject: string, detail: Record<string, unknown>): Promise<void> {
  await db.query('INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)', [actor, action, subject, JSON.stringify(detail)]);
}

/**
 * Appends an audit record unless one with this action, subject and detail.key exists (activity retries write it
 * once). The unique index audit_log_once arbitrates concurrent writers.
 */
export async function insertAuditOnce(db: Queryable, actor: string, action: string, subject: string, key: string, detail: Record<string, unknown>): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)
     ON CONFLICT (action, subject, (detail->>'key')) WHERE detail ? 'key' DO NOTHING`,
    [actor, action, subject, JSON.stringify({ ...detail, key })],
  );
  return rowCount === 1;
}
