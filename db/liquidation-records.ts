import { randomUUID } from 'node:crypto';
import { insertAudit } from './sql/audit';
import { eodCandidates } from './sql/liquidation-accounts';
import { getLiquidationForDay, insertLiquidation, type Liquidation, type NewLiquidation, type ReplayClock } from './sql/liquidations';
import { inTransaction, type ConnectionPool, type Queryable } from './sql/queryable';
import type { CalendarId } from '../domain/calendar/calendar';
import { liquidationWorkflowId, type EodWindow } from '../domain/eod/policy';

/** Which accounts a day's liquidations cover, and with what scope and margin (the scheduler's plan). */
export interface PlannedLiquidation {
  accountId: string;
  brokers: string[];
  scope: 'account' | 'deployments';
  deploymentIds: string[];
  marginMinutes: number;
}

/**
 * Every account that must be flat by the close: an account configured for liquidation closes everything (scope
 * 'account'); otherwise the account's deployments with an eod policy close theirs (scope 'deployments'). The earliest
 * margin among them applies to the account.
 */
export async function planLiquidations(db: Queryable, calendar: CalendarId): Promise<PlannedLiquidation[]> {
  const byAccount = new Map<string, PlannedLiquidation>();
  for (const c of await eodCandidates(db, calendar)) {
    const p = byAccount.get(c.accountId) ?? { accountId: c.accountId, brokers: [], scope: 'deployments', deploymentIds: [], marginMinutes: 0 };
    if (!p.brokers.includes(c.broker)) p.brokers.push(c.broker);
    if (c.deploymentId === null) p.scope = 'account';
    else p.deploymentIds.push(c.deploymentId);
    p.marginMinutes = Math.max(p.marginMinutes, c.marginMinutes);
    byAccount.set(c.accountId, p);
  }
  return [...byAccount.values()];
}

export interface LiquidationRequest {
  accountId: string;
  calendar: CalendarId;
  trigger: 'schedule' | 'manual';
  requestedBy: string;
  reason: string;
  scope: 'account' | 'deployments';
  deploymentIds: string[];
  brokers: string[];
  marginMinutes: number;
  window: EodWindow;
  clock?: ReplayClock;
}

/**
 * Records a liquidation (one per account and trading day) with its audit row, in one transaction. A second trigger
 * for the same account and day gets the row the first recorded (`created: false`), and writes an audit row saying so.
 */
export async function recordLiquidation(db: ConnectionPool, r: LiquidationRequest): Promise<{ liquidation: Liquidation; created: boolean }> {
  const row: NewLiquidation = {
    id: randomUUID(), workflowId: liquidationWorkflowId(r.accountId, r.window.date), accountId: r.accountId, tradingDay: r.window.date, calendar: r.calendar,
    trigger: r.trigger, requestedBy: r.requestedBy, reason: r.reason, scope: r.scope, deploymentIds: r.deploymentIds, brokers: r.brokers, marginMinutes: r.marginMinutes,
    closeAtMs: r.window.closeMs, reduceOnlyAtMs: r.window.reduceOnlyAtMs, flatByMs: r.window.flatByMs, liftsAtMs: r.window.liftsAtMs, ...(r.clock ? { clock: r.clock } : {}),
  };
  return inTransaction(db, async (tx) => {
    const inserted = await insertLiquidation(tx, row);
    const liquidation = inserted ?? (await getLiquidationForDay(tx, r.accountId, r.window.date));
    if (!liquidation) throw new Error(`liquidation of ${r.accountId} on ${r.window.date} vanished`);
    await insertAudit(tx, r.requestedBy, inserted ? 'liquidation.trigger' : 'liquidation.trigger.existing', liquidation.id, {
      accountId: r.accountId, tradingDay: r.window.date, trigger: r.trigger, reason: r.reason, scope: liquidation.scope, workflowId: liquidation.workflowId,
    });
    return { liquidation, created: Boolean(inserted) };
  });
}
