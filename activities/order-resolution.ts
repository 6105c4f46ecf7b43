import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrokerRequestError, type BrokerPort } from '../brokers/port';
import { cancelLedgerRow, insertLedgerIntent, lockLedgerOrder, recordLedgerError, unresolvedLedgerOrders, type LedgerOrder } from '../db/sql/order-ledger';
import { inTransaction, type ConnectionPool } from '../db/sql/queryable';
import { neverSent, UNRESOLVED_STATES } from '../domain/orders';
import { ErrorType } from '../workflows/errors';
import { intentHash, recordBrokerOrder, resultOf, type PlaceOrderInput, type PlaceOrderResult } from './orders';

export interface OrderResolutionDeps {
  db: ConnectionPool;
  brokers: Record<string, BrokerPort>;
  /**
   * An order that may have reached the broker and that a lookup does not find counts as never placed only when its
   * last attempt ended at least this long ago (a lagging lookup may not see a fresh order yet). Default 5 s.
   */
  lookupSettleMs?: number;
}

export const LOOKUP_SETTLE_MS = 5_000;

/**
 * Resolving orders a deployment stops waiting for (stop, pause, or a flatten that overtakes an entry). An order that
 * never reached the broker (ledger INTENT, or every attempt so far known unsent: connection refused, the broker
 * guard's refusal) is CANCELED with the reason and can never be sent afterwards; an order that may have reached the
 * broker is resolved by a lookup by client order id: the broker's answer is recorded, or, when the broker does not
 * have it once lookups have had time to settle, it is CANCELED. Never abandoned: while the broker cannot be asked,
 * the activity fails (retried) and the deployment shows the order as what blocks it.
 */
export function createOrderResolver({ db, brokers, lookupSettleMs = LOOKUP_SETTLE_MS }: OrderResolutionDeps) {
  /**
   * One row, under its lock: a submission in flight holds the lock until the broker has answered. With `order`, a
   * row that does not exist yet is recorded first (and cancelled at once), so a placeOrder attempt that starts late
   * finds it CANCELED and sends nothing.
   */
  const resolve = (clientOrderId: string, reason: string, signal?: AbortSignal, order?: PlaceOrderInput): Promise<LedgerOrder | undefined> =>
    inTransaction(db, async (tx) => {
      if (order) await insertLedgerIntent(tx, { ...order, intentHash: intentHash(order) });
      const mine = await lockLedgerOrder(tx, clientOrderId);
      if (!mine || !UNRESOLVED_STATES.includes(mine.state)) return mine;
      if (neverSent(mine)) {
        await cancelLedgerRow(tx, clientOrderId, `${reason}: never sent${mine.lastError ? ` (last error: ${mine.lastError})` : ''}`);
        return lockLedgerOrder(tx, clientOrderId);
      }
      const broker = brokers[mine.broker];
      if (!broker) throw ApplicationFailure.nonRetryable(`order ${clientOrderId} may be at broker "${mine.broker}", which this IO worker has not configured`, ErrorType.BrokerNotConfigured);
      const found = await broker.getOrderByClientId(clientOrderId, signal).catch((err: unknown) => {
        if (err instanceof BrokerRequestError && (err.status === 401 || err.status === 403)) throw ApplicationFailure.nonRetryable(err.message, ErrorType.BrokerNotConfigured);
        throw ApplicationFailure.retryable(`order ${clientOrderId}: lookup failed (${(err as Error).message}); it may be at the broker`, ErrorType.OrderUnresolved);
      });
      if (found) {
        await recordBrokerOrder(tx, clientOrderId, found);
        return lockLedgerOrder(tx, clientOrderId);
      }
      if (Date.now() - mine.updatedAt.getTime() < lookupSettleMs) {
        throw ApplicationFailure.retryable(`order ${clientOrderId}: not at the broker yet; looking again before calling it never placed`, ErrorType.OrderUnresolved);
      }
      await cancelLedgerRow(tx, clientOrderId, `${reason}: not at the broker (looked up by client order id)`);
      return lockLedgerOrder(tx, clientOrderId);
    }).catch(async (err: unknown) => {
      if (err instanceof ApplicationFailure && err.type === ErrorType.OrderUnresolved) await recordLedgerError(db, clientOrderId, err.message).catch(() => undefined);
      throw err;
    });
  return resolve;
}

export function createOrderResolutionActivities(deps: OrderResolutionDeps) {
  const { db } = deps;
  const resolve = createOrderResolver(deps);
  return {
    /** Resolves one order the runtime stopped waiting for; answers its ledger state afterwards. */
    async resolveOrder(args: { order: PlaceOrderInput; reason: string }): Promise<PlaceOrderResult> {
      const order = await resolve(args.order.clientOrderId, args.reason, Context.current().cancellationSignal, args.order);
      if (!order) throw ApplicationFailure.nonRetryable(`order ${args.order.clientOrderId} has no ledger row`, ErrorType.InvalidInput);
      return resultOf(order);
    },

    /** Resolves every order of a deployment the broker may or may not have (before it is recorded as stopped). */
    async resolveDeploymentOrders(args: { deploymentId: string; reason: string }): Promise<{ resolved: Array<{ clientOrderId: string; state: string }> }> {
      const resolved: Array<{ clientOrderId: string; state: string }> = [];
      for (const { clientOrderId } of await unresolvedLedgerOrders(db, args.deploymentId)) {
        const after = await resolve(clientOrderId, args.reason, Context.current().cancellationSignal);
        resolved.push({ clientOrderId, state: after?.state ?? 'gone' });
      }
      return { resolved };
    },
  };
}
