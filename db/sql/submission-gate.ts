import type { KillSwitchState } from '../../domain/risk/gate';
import { ledgerColumns, ledgerRowToOrder, type LedgerOrder, type LedgerRecord } from './order-ledger';
import { prepared, type Queryable } from './queryable';
import { ACTIVE_HALT_SCOPES, haltsOf } from './trading-halts';

/**
 * A submission's check right before the broker call, in one round trip: locks its ledger row until the end of the
 * caller's transaction (lockLedgerOrder's NO KEY UPDATE, for the same reasons) and reads the halts on for its account
 * and deployment (activeHalts). Undefined when the row is gone.
 *
 * Call it only after beginHoldingTradingGate returned, in that transaction. Under READ COMMITTED this statement's
 * snapshot is taken when it starts, so the gate must be held by then: every halt or end-of-day window committed before
 * the gate was granted is visible here, and none can commit until the caller's COMMIT (they take the gate
 * exclusively). Taking the gate inside this statement would not do: its snapshot would predate a halt that committed
 * while the statement waited for the gate. The row lock waits for a concurrent writer of the row and then returns
 * the row's latest version, as a statement of its own did.
 */
const LOCK_ROW_READING_HALTS = prepared(
  'submission-gate-lock-row-read-halts',
  `WITH halts AS (SELECT coalesce(array_agg(h.scope::text), '{}') AS scopes FROM (${ACTIVE_HALT_SCOPES}) h)
     SELECT ${ledgerColumns('l.')}, halts.scopes AS halt_scopes FROM order_ledger l CROSS JOIN halts WHERE l.client_order_id = $3 FOR NO KEY UPDATE OF l`,
);

export async function lockLedgerOrderReadingHalts(gate: Queryable, clientOrderId: string, accountId: string, deploymentId: string): Promise<{ order: LedgerOrder; halts: KillSwitchState } | undefined> {
  const { rows } = await gate.query<LedgerRecord & { halt_scopes: string[] }>(LOCK_ROW_READING_HALTS, [accountId, deploymentId, clientOrderId]);
  const r = rows[0];
  return r && { order: ledgerRowToOrder(r), halts: haltsOf(r.halt_scopes) };
}
