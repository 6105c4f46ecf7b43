import type { Queryable } from './queryable';

export const LEDGER_STATES = ['INTENT', 'SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL', 'FILLED', 'REJECTED', 'CANCELED'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];
/** States in which the broker may hold an order we have not confirmed: resolve by lookup, never by a blind resubmit. */
export const UNRESOLVED_STATES: readonly LedgerState[] = ['SUBMITTING', 'UNKNOWN'];

export interface LedgerIntent {
  clientOrderId: string;
  deploymentId: string;
  workflowId: string;
  cycle: number;
  leg: number;
  intentVersion: number;
  broker: string;
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  orderType: 'market' | 'limit';
  limitPrice?: number;
  timeInForce: 'day' | 'gtc' | 'ioc';
  intentHash: string;
}

export interface LedgerRow {
  client_order_id: string;
  deployment_id: string;
  workflow_id: string;
  cycle_seq: number;
  leg: number;
  intent_version: number;
  broker: string;
  account_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  order_type: 'market' | 'limit';
  limit_price: number | null;
  time_in_force: 'day' | 'gtc' | 'ioc';
  intent_hash: string;
  state: LedgerState;
  broker_order_id: string | null;
  filled_qty: number;
  avg_fill_price: number | null;
  reject_reason: string | null;
  submit_attempts: number;
  /** attempts known not to have reached the broker (connection refused, the broker guard's refusal) */
  unsent_attempts: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Step 1 of the protocol: record the intent; the unique key arbitrates concurrent attempts. Returns the row as stored. */
export async function insertLedgerIntent(db: Queryable, i: LedgerIntent): Promise<{ row: LedgerRow; created: boolean }> {
  const { rows } = await db.query<LedgerRow & Record<string, unknown>>(
    `INSERT INTO order_ledger (client_order_id, deployment_id, workflow_id, cycle_seq, leg, intent_version, broker, account_id,
       symbol, side, qty, order_type, limit_price, time_in_force, intent_hash, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'INTENT')
     ON CONFLICT (client_order_id) DO NOTHING RETURNING *`,
    [i.clientOrderId, i.deploymentId, i.workflowId, i.cycle, i.leg, i.intentVersion, i.broker, i.accountId, i.symbol, i.side, i.qty, i.orderType, i.limitPrice ?? null, i.timeInForce, i.intentHash],
  );
  if (rows[0]) return { row: rows[0], created: true };
  const existing = await getLedgerRow(db, i.clientOrderId);
  if (!existing) throw new Error(`ledger row ${i.clientOrderId} vanished`);
  return { row: existing, created: false };
}

export async function getLedgerRow(db: Queryable, clientOrderId: string): Promise<LedgerRow | undefined> {
  const { rows } = await db.query<LedgerRow & Record<string, unknown>>('SELECT * FROM order_ledger WHERE client_order_id = $1', [clientOrderId]);
  return rows[0];
}

/** Marks the row SUBMITTING (committed before the broker call) and counts the attempt. */
export async function markLedgerSubmitting(db: Queryable, clientOrderId: string): Promise<void> {
  await db.query(
    `UPDATE order_ledger SET state = 'SUBMITTING', submit_attempts = submit_attempts + 1, updated_at = now()
     WHERE client_order_id = $1 AND state IN ('INTENT', 'SUBMITTING', 'UNKNOWN')`,
    [clientOrderId],
  );
}

/** Records what the broker said (or that we do not know). Never moves a row back from a broker-confirmed state. */
export async function updateLedgerFromBroker(
  db: Queryable,
  clientOrderId: string,
  u: { state: LedgerState; brokerOrderId?: string | null; filledQty?: number; avgFillPrice?: number | null; rejectReason?: string },
): Promise<void> {
  await db.query(
    `UPDATE order_ledger SET state = $2, broker_order_id = coalesce($3, broker_order_id), filled_qty = greatest(filled_qty, coalesce($4, filled_qty)),
       avg_fill_price = coalesce($5, avg_fill_price), reject_reason = coalesce($6, reject_reason), updated_at = now()
     WHERE client_order_id = $1
       AND NOT (state IN ('FILLED', 'REJECTED', 'CANCELED') AND $2 IN ('INTENT', 'SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL'))`,
    [clientOrderId, u.state, u.brokerOrderId ?? null, u.filledQty ?? null, u.avgFillPrice ?? null, u.rejectReason ?? null],
  );
}

/**
 * Locks the row until the end of the caller's transaction and reads its state. A submission holds it across the
 * broker call, so a stop that cancels the order either waits for the answer or is seen by the submission first.
 */
export async function lockLedgerRow(db: Queryable, clientOrderId: string): Promise<LedgerRow | undefined> {
  const { rows } = await db.query<LedgerRow & Record<string, unknown>>('SELECT * FROM order_ledger WHERE client_order_id = $1 FOR UPDATE', [clientOrderId]);
  return rows[0];
}

/**
 * An attempt that certainly did not reach the broker (connection refused, the guard's refusal): counted, with the
 * error. When no attempt so far may have reached it, the row is back to INTENT (nothing to look up); else UNKNOWN.
 */
export async function recordUnsentAttempt(db: Queryable, clientOrderId: string, error: string): Promise<void> {
  await db.query(
    `UPDATE order_ledger SET unsent_attempts = unsent_attempts + 1, last_error = $2, updated_at = now(),
       state = CASE WHEN submit_attempts <= unsent_attempts + 1 THEN 'INTENT' ELSE 'UNKNOWN' END
     WHERE client_order_id = $1 AND state IN ('SUBMITTING', 'UNKNOWN')`,
    [clientOrderId, error.slice(0, 500)],
  );
}

/**
 * The last error of an order still in flight (shown as a blocker of its deployment). updated_at stays: it dates the
 * last attempt, which is how long a lookup that finds nothing has had to settle.
 */
export async function recordLedgerError(db: Queryable, clientOrderId: string, error: string): Promise<void> {
  await db.query('UPDATE order_ledger SET last_error = $2 WHERE client_order_id = $1', [clientOrderId, error.slice(0, 500)]);
}

/** SUBMITTING -> UNKNOWN (the broker has no such order yet), only if no one moved the row meanwhile. */
export async function markLedgerUnknownIfSubmitting(db: Queryable, clientOrderId: string): Promise<void> {
  await db.query(`UPDATE order_ledger SET state = 'UNKNOWN', updated_at = now() WHERE client_order_id = $1 AND state = 'SUBMITTING'`, [clientOrderId]);
}

/** An order that never reached the broker and never will: CANCELED with the reason. Returns whether it moved. */
export async function cancelLedgerRow(db: Queryable, clientOrderId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE order_ledger SET state = 'CANCELED', reject_reason = $2, updated_at = now() WHERE client_order_id = $1 AND state IN ('INTENT', 'SUBMITTING', 'UNKNOWN')`,
    [clientOrderId, reason.slice(0, 500)],
  );
  return rowCount === 1;
}

/** Orders of a deployment the broker may or may not have (INTENT, SUBMITTING, UNKNOWN), oldest first. */
export async function unresolvedLedgerRows(db: Queryable, deploymentId: string): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow & Record<string, unknown>>(
    `SELECT * FROM order_ledger WHERE deployment_id = $1 AND state IN ('INTENT', 'SUBMITTING', 'UNKNOWN') ORDER BY created_at`,
    [deploymentId],
  );
  return rows;
}

/** Orders of a deployment whose outcome is not final yet (reconciled before each cycle's new orders). */
export async function listOpenLedgerRows(db: Queryable, deploymentId: string): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow & Record<string, unknown>>(
    `SELECT * FROM order_ledger WHERE deployment_id = $1 AND state IN ('INTENT', 'SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL') ORDER BY created_at`,
    [deploymentId],
  );
  return rows;
}

/** Which of these client order ids have a ledger row (reconciliation: the rest are unknown to us). */
export async function knownClientOrderIds(db: Queryable, clientOrderIds: string[]): Promise<Set<string>> {
  if (clientOrderIds.length === 0) return new Set();
  const { rows } = await db.query<{ client_order_id: string }>('SELECT client_order_id FROM order_ledger WHERE client_order_id = ANY($1::text[])', [clientOrderIds]);
  return new Set(rows.map((r) => r.client_order_id));
}
