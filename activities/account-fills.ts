import type { Context } from '@temporalio/activity';
import type { BrokerOrder, BrokerPort } from '../brokers/port';
import { insertDiscrepancy, type NewDiscrepancy } from '../db/sql/broker-discrepancies';
import { getFillCursor, insertFills, setFillCursor, type FillRecord } from '../db/sql/fills';
import { enqueueNotification } from '../db/sql/notifications';
import { knownClientOrderIds, ledgerOwners } from '../db/sql/order-ledger';
import { inTransaction, type ConnectionPool } from '../db/sql/queryable';

/**
 * The account-level half of reconciliation, shared by the runtime's sync and the liquidation: read the account's
 * fills from the stored cursor (the broker's gap-free fill cursor) and store each once under the ledger row it
 * belongs to; flag fills and open orders the ledger does not know (a finding that blocks the account, and its alert).
 */
export function createAccountReconciler(db: ConnectionPool, beforeFillInsert: () => void = () => undefined) {
  /** Records a finding once and, in the same transaction, the alert for it (the outbox sends it). */
  const found = (d: NewDiscrepancy) =>
    inTransaction(db, async (tx) => {
      const row = await insertDiscrepancy(tx, d);
      if (!row) return;
      const what = d.kind === 'unknown_order' ? 'an open order' : 'a fill';
      await enqueueNotification(tx, {
        kind: `reconciliation.${d.kind}`,
        severity: 'critical',
        subject: `Broker ${d.broker} account ${d.accountId} has ${what} the ledger does not know (${d.symbol})`,
        body: `Reconciliation found ${what} ${d.brokerRef} (client id ${d.clientOrderId || 'none'}) at the broker. Every deployment on the account places no new orders until an admin resolves finding ${row.id} (POST /v1/reconciliation/findings/${row.id}/resolve).`,
        payload: { findingId: row.id, broker: d.broker, accountId: d.accountId, kind: d.kind, brokerRef: d.brokerRef, symbol: d.symbol, foundBy: d.foundBy },
        dedupeKey: `discrepancy:${row.id}`,
      });
    });

  return {
    /** Stores the account's new fills; returns how many were stored per deployment and how many the ledger does not know. */
    async ingestFills(ctx: Context, broker: BrokerPort, args: { broker: string; accountId: string; foundBy: string }): Promise<{ stored: Map<string, number>; unknown: number }> {
      const stored = new Map<string, number>();
      let unknown = 0;
      let cursor = await getFillCursor(db, args.broker, args.accountId);
      for (let page = 0; page < 100; page++) {
        const fills = await broker.listFills({ pageToken: cursor, limit: 100 }, ctx.cancellationSignal);
        if (fills.length === 0) break;
        // One lookup and one insert per page (a liquidation's look reads hundreds of fills at once).
        const owners = await ledgerOwners(db, [...new Set(fills.flatMap((f) => (f.clientOrderId ? [f.clientOrderId] : [])))]);
        const known: FillRecord[] = [];
        for (const f of fills) {
          const deploymentId = f.clientOrderId ? owners.get(f.clientOrderId) : undefined;
          if (!deploymentId) {
            unknown++;
            await found({ broker: args.broker, accountId: args.accountId, kind: 'unknown_fill', brokerRef: f.id, clientOrderId: f.clientOrderId, symbol: f.symbol, detail: { side: f.side, qty: f.qty, price: f.price, ts: f.ts, orderId: f.orderId }, foundBy: args.foundBy });
            continue;
          }
          known.push({ broker: args.broker, brokerFillId: f.id, clientOrderId: f.clientOrderId, deploymentId, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, ts: f.ts });
        }
        beforeFillInsert();
        for (const d of await insertFills(db, known)) stored.set(d, (stored.get(d) ?? 0) + 1);
        beforeFillInsert(); // also after the page is stored and before the cursor moves: a restart stores it again, once
        cursor = fills[fills.length - 1]!.id;
        await setFillCursor(db, args.broker, args.accountId, cursor);
        if (!ctx.info.isLocal) ctx.heartbeat({ page }); // a local activity has no heartbeat (its task is kept alive)
      }
      return { stored, unknown };
    },

    /** The broker wins, and it must hold nothing we did not send: an open order unknown to the ledger is a finding. */
    async flagUnknownOrders(open: BrokerOrder[], args: { broker: string; accountId: string; foundBy: string }): Promise<number> {
      const known = await knownClientOrderIds(db, open.map((o) => o.clientOrderId));
      let n = 0;
      for (const o of open) {
        if (known.has(o.clientOrderId)) continue;
        n++;
        await found({ broker: args.broker, accountId: args.accountId, kind: 'unknown_order', brokerRef: o.id, clientOrderId: o.clientOrderId, symbol: o.symbol, detail: { side: o.side, qty: o.qty, type: o.type, status: o.status, submittedAt: o.submittedAt }, foundBy: args.foundBy });
      }
      return n;
    },
  };
}
