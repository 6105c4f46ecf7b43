import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrokerRequestError, type BrokerPort } from '../brokers/port';
import { accountPositionsByDeployment } from '../db/sql/fills';
import { appendLiquidationStep } from '../db/sql/liquidations';
import { accountOpenLedgerOrders, workflowLedgerOrders, type LedgerOrder } from '../db/sql/order-ledger';
import type { ConnectionPool } from '../db/sql/queryable';
import type { HeldPosition, OwnedPosition } from '../domain/eod/plan';
import { FINAL_STATES, UNRESOLVED_STATES } from '../domain/orders';
import { ErrorType } from '../workflows/errors';
import { createAccountReconciler } from './account-fills';
import type { LiquidationTask } from './liquidation';
import { createOrderResolver } from './order-resolution';
import { recordBrokerOrder } from './orders';

/** What one look at the broker found: the broker's positions, who holds what by the ledger, our closes still open. */
export interface LiquidationInspection {
  brokerPositions: HeldPosition[];
  owners: OwnedPosition[];
  /** the unfilled rest of the liquidation's own orders still in flight, signed (a sell is negative) */
  pending: OwnedPosition[];
  /** symbols the deployments scope covers (held now, or closed by this liquidation) */
  scopeSymbols: HeldPosition[];
  /** per `${broker}/${symbol}`: why its last close did not fill (the broker's refusal or the last error) */
  errors: Record<string, string>;
  /** the liquidation's orders so far, and what this look cancelled and resolved */
  orders: number;
  cancelled: number;
  resolved: number;
  /** positions the broker holds whose quantity is held by other open orders (qty_available short of qty) */
  held: number;
}

export interface LiquidationBrokerDeps {
  db: ConnectionPool;
  brokers: Record<string, BrokerPort>;
  lookupSettleMs?: number;
}

const signed = (o: Pick<LedgerOrder, 'side'>, qty: number) => (o.side === 'buy' ? qty : -qty);

/**
 * The liquidation's calls to the broker: cancel the scope's open orders (step 2), and each round's look (cancel the
 * unfilled rest of our own closes, bring their ledger rows up to date, store the account's fills, read the broker's
 * positions). The broker wins: positions come from it, the ledger only says which deployment holds what.
 */
export function createLiquidationBrokerActivities({ db, brokers, lookupSettleMs }: LiquidationBrokerDeps) {
  const reconciler = createAccountReconciler(db);
  const resolve = createOrderResolver({ db, brokers, ...(lookupSettleMs !== undefined ? { lookupSettleMs } : {}) });
  const brokerFor = (name: string): BrokerPort => {
    const b = brokers[name];
    if (!b) throw ApplicationFailure.nonRetryable(`unknown broker "${name}": this IO worker has no such broker configured`, ErrorType.BrokerNotConfigured);
    return b;
  };
  /** Cancels an open order's unfilled rest (already done: fine) and records what the broker says of it now. */
  const cancelAndRefresh = async (broker: BrokerPort, o: LedgerOrder, signal: AbortSignal): Promise<boolean> => {
    let cancelled = false;
    if (o.brokerOrderId && (o.state === 'ACCEPTED' || o.state === 'PARTIAL')) {
      cancelled = await broker.cancelOrder(o.brokerOrderId, signal).then(
        () => true,
        (err: unknown) => {
          if (err instanceof BrokerRequestError && (err.status === 404 || err.status === 422)) return false; // filled or gone meanwhile
          throw err;
        },
      );
    }
    const now = await broker.getOrderByClientId(o.clientOrderId, signal);
    if (now) await recordBrokerOrder(db, o.clientOrderId, now);
    return cancelled;
  };

  return {
    /** Step 2: cancel open orders. Account scope: every open order of the account at each broker; else the scope's own. */
    async cancelLiquidationOrders(args: { task: LiquidationTask; atMs: number }): Promise<{ cancelled: number; refreshed: number }> {
      const t = args.task;
      const signal = Context.current().cancellationSignal;
      let cancelled = 0;
      if (t.scope.kind === 'account') {
        for (const b of t.brokers) cancelled += (await brokerFor(b.name).cancelAllOrders(signal)).filter((r) => r.status >= 200 && r.status < 300).length;
      }
      const open = await accountOpenLedgerOrders(db, t.accountId, t.scope.kind === 'account' ? null : t.scope.deploymentIds);
      for (const o of open) {
        if (!t.brokers.some((b) => b.name === o.broker)) continue;
        if (await cancelAndRefresh(brokerFor(o.broker), o, signal)) cancelled++;
      }
      await appendLiquidationStep(db, t.liquidationId, { step: 'cancel', at: args.atMs, detail: { cancelled, refreshed: open.length } });
      return { cancelled, refreshed: open.length };
    },

    /** One round's look at the broker (see LiquidationInspection). */
    async inspectLiquidation(args: { task: LiquidationTask }): Promise<LiquidationInspection> {
      const t = args.task;
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      let cancelled = 0;
      let resolved = 0;
      const ours = await workflowLedgerOrders(db, t.workflowId);
      for (const o of ours) {
        if (FINAL_STATES.includes(o.state)) continue;
        if (UNRESOLVED_STATES.includes(o.state)) {
          // A close whose placeOrder gave up: settled once here (cancelled if never sent, else looked up), or left pending.
          const after = await resolve(o.clientOrderId, 'liquidation round', signal).catch(() => undefined);
          if (after && !UNRESOLVED_STATES.includes(after.state)) resolved++;
          continue;
        }
        if (await cancelAndRefresh(brokerFor(o.broker), o, signal)) cancelled++;
      }
      const brokerPositions: HeldPosition[] = [];
      let held = 0;
      for (const b of t.brokers) {
        const broker = brokerFor(b.name);
        await reconciler.ingestFills(ctx, broker, { broker: b.name, accountId: t.accountId, foundBy: t.workflowId });
        for (const p of await broker.listPositions(signal)) {
          brokerPositions.push({ broker: b.name, symbol: p.symbol, qty: p.qty });
          if (p.qtyAvailable !== undefined && Math.abs(p.qtyAvailable) < Math.abs(p.qty) - 1e-9) held++;
        }
      }
      const owners = (await accountPositionsByDeployment(db, t.accountId)).filter((o) => t.brokers.some((b) => b.name === o.broker));
      const after = await workflowLedgerOrders(db, t.workflowId);
      const pending: OwnedPosition[] = [];
      const errors: Record<string, string> = {};
      for (const o of after) {
        if (!FINAL_STATES.includes(o.state)) pending.push({ broker: o.broker, symbol: o.symbol, deploymentId: o.deploymentId, qty: signed(o, Math.max(0, o.qty - o.filledQty)) });
        const why = o.state === 'REJECTED' ? o.rejectReason : o.lastError;
        if (why) errors[`${o.broker}/${o.symbol}`] = why.slice(0, 300);
      }
      const inScope = (id: string) => t.scope.kind === 'account' || t.scope.deploymentIds.includes(id);
      const symbols = new Map<string, HeldPosition>();
      for (const p of [...owners.filter((o) => inScope(o.deploymentId)), ...after]) symbols.set(`${p.broker}/${p.symbol}`, { broker: p.broker, symbol: p.symbol, qty: 0 });
      return { brokerPositions, owners, pending, scopeSymbols: [...symbols.values()], errors, orders: after.length, cancelled, resolved, held };
    },
  };
}
export type LiquidationBrokerActivities = ReturnType<typeof createLiquidationBrokerActivities>;
