import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrokerGuardRefusal } from '../brokers/guard/errors';
import { BrokerRequestError, type BrokerOrder, type BrokerPort, type OrderStatus, type SubmitOutcome } from '../brokers/port';
import { claimAccountSync, fillsBehindLedger, getFillCursor, insertFill, positionsFromFills, setFillCursor } from '../db/sql/fills';
import { insertDiscrepancy, openDiscrepancies, type NewDiscrepancy } from '../db/sql/broker-discrepancies';
import {
  getLedgerOrder,
  insertLedgerIntent,
  knownClientOrderIds,
  lockLedgerOrder,
  markLedgerSubmitting,
  markLedgerUnknownIfSubmitting,
  openLedgerOrders,
  recordLedgerError,
  recordUnsentAttempt,
  updateLedgerFromBroker,
  type LedgerIntent,
  type LedgerOrder,
} from '../db/sql/order-ledger';
import { enqueueNotification } from '../db/sql/notifications';
import { inTransaction, type ConnectionPool, type Queryable } from '../db/sql/queryable';
import { activeHalts, holdTradingGate } from '../db/sql/trading-halts';
import { MAYBE_SENT_STATES, UNRESOLVED_STATES, type LedgerState } from '../domain/orders';
import { isExposureReducing } from '../domain/risk/gate';
import { orderRejectedAlert } from '../notify/alerts';
import { ErrorType } from '../workflows/errors';

/** Points where a fault test may kill the worker (R1); a no-op in production. */
export type CrashPoint = 'before_ledger_insert' | 'after_ledger_insert' | 'after_broker_send' | 'after_ledger_update' | 'mid_fill_ingest';

export interface OrderDeps {
  db: ConnectionPool;
  /** connections held across a broker call while the trading gate is held (default: db) */
  gatePool?: ConnectionPool;
  brokers: Record<string, BrokerPort>;
  crashPoint?: (point: CrashPoint) => void;
  /**
   * The account-level part of a sync (reading the account's fills and listing its open orders) is skipped when
   * another sync of the same account did it this recently and this deployment's own fills are all stored
   * (default ACCOUNT_SYNC_EVERY_MS; 0 = every sync lists the account)
   */
  accountSyncEveryMs?: number;
}

/** How long one account-level listing serves every deployment on the account (a bar close's burst of syncs). */
export const ACCOUNT_SYNC_EVERY_MS = 2_000;

export interface SyncOrdersResult {
  open: number;
  newFills: number;
  unknownFills: number;
  positions: Array<{ symbol: string; qty: number; cashFlow: number }>;
  /** unresolved reconciliation findings of the account (at most 5 shown): while any exist, no new orders */
  blockedBy?: string[];
  /** wall-clock ms when the sync finished (the runtime times its next wait from it) */
  at?: number;
}

/** An order to place: the ledger's intent (its hash is computed here), and how it is sent. */
export interface PlaceOrderInput extends Omit<LedgerIntent, 'intentHash'> {
  /**
   * 'close_position' sends the order as the broker's close-position call (DELETE /v2/positions/{symbol}) tagged with
   * this client order id: liquidation's last resort, for brokers with `closeWithClientOrderId` only (a market day
   * order on the closing side, refused unless the broker's position is on the side this order reduces). Default
   * 'order' (POST /v2/orders). See brokers/README.md, "Closing positions".
   */
  route?: 'order' | 'close_position';
}

export interface PlaceOrderResult {
  clientOrderId: string;
  state: LedgerState;
  brokerOrderId: string | null;
  rejectReason?: string;
  /** wall-clock ms when the result was read (the runtime's cycle latency ends here) */
  at?: number;
}

const LEDGER_STATE_OF: Record<OrderStatus, LedgerState> = {
  new: 'ACCEPTED',
  accepted: 'ACCEPTED',
  partially_filled: 'PARTIAL',
  filled: 'FILLED',
  canceled: 'CANCELED',
  expired: 'CANCELED',
  rejected: 'REJECTED',
};

/** The canonical hash of what an order is, so the same client id can never stand for two different orders. */
export function intentHash(i: Pick<PlaceOrderInput, 'symbol' | 'side' | 'qty' | 'orderType' | 'limitPrice' | 'timeInForce' | 'broker' | 'accountId' | 'route'>): string {
  const fields: unknown[] = [i.broker, i.accountId, i.symbol, i.side, i.qty, i.orderType, i.limitPrice ?? null, i.timeInForce];
  // Ordinary orders keep the hash they always had; a close can never share a client id with an ordinary order.
  if (i.route === 'close_position') fields.push(i.route);
  const canonical = JSON.stringify(fields);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Records what the broker says about an order on its ledger row. */
export async function recordBrokerOrder(db: Queryable, clientOrderId: string, order: BrokerOrder): Promise<void> {
  await updateLedgerFromBroker(db, clientOrderId, {
    state: LEDGER_STATE_OF[order.status],
    brokerOrderId: order.id,
    filledQty: order.filledQty,
    avgFillPrice: order.filledAvgPrice,
    ...(order.status === 'rejected' ? { rejectReason: 'rejected by broker' } : {}),
  });
}

export function resultOf(order: Pick<LedgerOrder, 'clientOrderId' | 'state' | 'brokerOrderId' | 'rejectReason'>): PlaceOrderResult {
  const { clientOrderId, state, brokerOrderId, rejectReason } = order;
  return { clientOrderId, state, brokerOrderId, ...(rejectReason ? { rejectReason } : {}), at: Date.now() };
}

/**
 * The ledger's order as a close-position call. The broker picks the closing side from its own position, so the
 * position is read first: an order the broker would send the other way (or no position) is refused unsent.
 */
async function closeAtBroker(broker: BrokerPort, input: PlaceOrderInput, signal: AbortSignal): Promise<SubmitOutcome> {
  const position = await broker.getPosition(input.symbol, signal);
  const closingSide = position && position.qty !== 0 ? (position.qty > 0 ? 'sell' : 'buy') : null;
  if (closingSide !== input.side) {
    return { kind: 'rejected', reason: `the broker's position in ${input.symbol} is ${position?.qty ?? 0}: a close would not be a ${input.side}` };
  }
  return broker.closePosition({ symbol: input.symbol, qty: input.qty, clientOrderId: input.clientOrderId }, signal);
}

/**
 * Order placement with an exactly-once effect on top of at-least-once activities:
 * ledger row before the broker call; on a retry, look the order up by client id before any resubmit;
 * an unknown outcome (timeout, 5xx, 429, duplicate id) is resolved by that lookup, never by a blind resubmit;
 * the kill switch is read from Postgres right before the broker is called.
 */
export function createOrderActivities({ db, gatePool, brokers, crashPoint = () => undefined, accountSyncEveryMs = ACCOUNT_SYNC_EVERY_MS }: OrderDeps) {
  const brokerFor = (name: string): BrokerPort => {
    const b = brokers[name];
    // A configuration fault (e.g. the IO worker started without this broker's credentials): retrying cannot help.
    if (!b) throw ApplicationFailure.nonRetryable(`unknown broker "${name}": this IO worker has no such broker configured`, ErrorType.BrokerNotConfigured);
    return b;
  };
  /** A wrong key or endpoint is a configuration fault, not a trading outcome: never retried. */
  const configFault = (err: unknown): never => {
    if (err instanceof BrokerRequestError && (err.status === 401 || err.status === 403 || err.status === 404)) {
      throw ApplicationFailure.nonRetryable(err.message, ErrorType.BrokerNotConfigured);
    }
    throw err;
  };

  const recordOrder = (clientOrderId: string, order: BrokerOrder) => recordBrokerOrder(db, clientOrderId, order);

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

  /** syncOrders' work (see there); its broker errors are mapped to configuration faults by the caller. */
  const sync = async (ctx: Context, broker: BrokerPort, args: { deploymentId: string; broker: string; accountId: string }): Promise<SyncOrdersResult> => {
    let newFills = 0;
    let unknownFills = 0;
    const open = await openLedgerOrders(db, args.deploymentId);
    for (const mine of open) {
      const order = await broker.getOrderByClientId(mine.clientOrderId, ctx.cancellationSignal);
      if (!order) {
        // Not at the broker: a crash before the send, or a send that never arrived. The next placeOrder attempt resends it.
        if (mine.state === 'SUBMITTING') await markLedgerUnknownIfSubmitting(db, mine.clientOrderId);
        continue;
      }
      await recordOrder(mine.clientOrderId, order);
    }
    // The account-level part, once per account and interval: this deployment lists the account itself whenever a
    // fill of its own is missing (its positions must be complete before it decides), otherwise only when nobody
    // else has within accountSyncEveryMs.
    const listAccount =
      accountSyncEveryMs <= 0 || (await fillsBehindLedger(db, args.deploymentId)) || (await claimAccountSync(db, args.broker, args.accountId, accountSyncEveryMs));
    // Read the account's fills from the stored cursor onward, page by page (the broker's gap-free cursor),
    // and store each once; fills of other deployments on the same account are stored for them too.
    let cursor = listAccount ? await getFillCursor(db, args.broker, args.accountId) : undefined;
    for (let page = 0; listAccount && page < 100; page++) {
      const fills = await broker.listFills({ pageToken: cursor, limit: 100 }, ctx.cancellationSignal);
      if (fills.length === 0) break;
      for (const f of fills) {
        const order = f.clientOrderId ? await getLedgerOrder(db, f.clientOrderId) : undefined;
        if (!order) {
          unknownFills++;
          await found({ broker: args.broker, accountId: args.accountId, kind: 'unknown_fill', brokerRef: f.id, clientOrderId: f.clientOrderId, symbol: f.symbol, detail: { side: f.side, qty: f.qty, price: f.price, ts: f.ts, orderId: f.orderId }, foundBy: args.deploymentId });
          continue;
        }
        crashPoint('mid_fill_ingest');
        const stored = await insertFill(db, { broker: args.broker, brokerFillId: f.id, clientOrderId: order.clientOrderId, deploymentId: order.deploymentId, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, ts: f.ts });
        if (stored && order.deploymentId === args.deploymentId) newFills++;
      }
      cursor = fills[fills.length - 1]!.id;
      await setFillCursor(db, args.broker, args.accountId, cursor);
      if (!ctx.info.isLocal) ctx.heartbeat({ page }); // a local activity has no heartbeat (its task is kept alive)
    }
    // The broker wins, and it must hold nothing we did not send: an open order unknown to the ledger blocks.
    const brokerOpen = listAccount ? await broker.listOrders({ status: 'open' }, ctx.cancellationSignal) : [];
    const known = await knownClientOrderIds(db, brokerOpen.map((o) => o.clientOrderId));
    for (const o of brokerOpen) {
      if (known.has(o.clientOrderId)) continue;
      await found({ broker: args.broker, accountId: args.accountId, kind: 'unknown_order', brokerRef: o.id, clientOrderId: o.clientOrderId, symbol: o.symbol, detail: { side: o.side, qty: o.qty, type: o.type, status: o.status, submittedAt: o.submittedAt }, foundBy: args.deploymentId });
    }
    const blockedBy = (await openDiscrepancies(db, args.broker, args.accountId, 5)).map(
      (d) => `${d.kind === 'unknown_order' ? 'unknown broker order' : 'unknown fill'} ${d.brokerRef} (${d.symbol}, client id ${d.clientOrderId || 'none'}; finding ${d.id})`,
    );
    const positions = await positionsFromFills(db, args.deploymentId);
    return { open: open.length, newFills, unknownFills, positions: positions.map(({ symbol, qty, cashFlow }) => ({ symbol, qty, cashFlow })), blockedBy, at: Date.now() };
  };

  return {
    async placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
      const ctx = Context.current();
      const broker = brokerFor(input.broker);
      const closing = input.route === 'close_position';
      if (closing && !(broker.closeWithClientOrderId && input.orderType === 'market' && input.timeInForce === 'day')) {
        throw ApplicationFailure.nonRetryable(
          `a close through the broker must be a market day order, on a broker that tags closing orders with the client order id (${input.broker}: ${broker.closeWithClientOrderId ? 'yes' : 'no'})`,
          ErrorType.InvalidInput,
        );
      }
      crashPoint('before_ledger_insert');
      const { order } = await insertLedgerIntent(db, { ...input, intentHash: intentHash(input) });
      if (order.intentHash !== intentHash(input)) {
        throw ApplicationFailure.nonRetryable(`client order id ${input.clientOrderId} is already used by a different order`, ErrorType.IntentMismatch);
      }
      crashPoint('after_ledger_insert');
      if (!UNRESOLVED_STATES.includes(order.state)) return resultOf(order);

      if (order.state !== 'INTENT') {
        // A previous attempt may have reached the broker: find out before sending anything.
        const found = await broker.getOrderByClientId(input.clientOrderId, ctx.cancellationSignal).catch(async (err: unknown) => {
          await recordLedgerError(db, input.clientOrderId, `lookup: ${(err as Error).message}`);
          return configFault(err);
        });
        if (found) {
          await recordOrder(input.clientOrderId, found);
          return resultOf((await getLedgerOrder(db, input.clientOrderId))!);
        }
      }

      // SUBMITTING is committed before anything is sent, so a crash from here on is resolved by lookup.
      await markLedgerSubmitting(db, input.clientOrderId);
      // The kill-switch check and the send happen under the trading gate (shared): a halt committed after
      // this check waits until the broker has answered, so nothing checked before it leaves after it. The ledger
      // row is locked for as long: a stop that cancels this order waits for the answer, or this attempt sees the
      // row CANCELED (or already resolved at the broker) and sends nothing.
      const gate = await (gatePool ?? db).connect();
      let outcome: Awaited<ReturnType<BrokerPort['submitOrder']>> | { kind: 'halted'; scope: string } | { kind: 'settled' };
      try {
        await gate.query('BEGIN');
        await holdTradingGate(gate);
        const locked = await lockLedgerOrder(gate, input.clientOrderId);
        const halts = await activeHalts(gate, input.accountId, input.deploymentId);
        const halted = halts.global ? 'global' : halts.account ? 'account' : halts.deployment ? 'deployment' : undefined;
        const position = halted ? ((await positionsFromFills(gate, input.deploymentId)).find((p) => p.symbol === input.symbol)?.qty ?? 0) : 0;
        outcome =
          !locked || !MAYBE_SENT_STATES.includes(locked.state)
            ? { kind: 'settled' }
            : halted && !isExposureReducing(position, { side: input.side, qty: input.qty })
              ? { kind: 'halted', scope: halted }
              : closing
                ? await closeAtBroker(broker, input, ctx.cancellationSignal)
                : await broker.submitOrder(
                    { clientOrderId: input.clientOrderId, symbol: input.symbol, side: input.side, qty: input.qty, type: input.orderType, limitPrice: input.limitPrice, timeInForce: input.timeInForce },
                    ctx.cancellationSignal,
                  );
        await gate.query('COMMIT');
      } catch (err) {
        await gate.query('ROLLBACK').catch(() => undefined);
        // The guard refused before sending: this attempt certainly did not reach the broker.
        if (err instanceof BrokerGuardRefusal) await recordUnsentAttempt(db, input.clientOrderId, err.message);
        else await recordLedgerError(db, input.clientOrderId, (err as Error).message).catch(() => undefined);
        return configFault(err);
      } finally {
        gate.release();
      }
      if (outcome.kind === 'settled') return resultOf((await getLedgerOrder(db, input.clientOrderId))!);
      if (outcome.kind === 'halted') {
        await updateLedgerFromBroker(db, input.clientOrderId, { state: 'REJECTED', rejectReason: `kill switch (${outcome.scope}) is on` });
        return resultOf((await getLedgerOrder(db, input.clientOrderId))!);
      }
      crashPoint('after_broker_send');
      if (outcome.kind === 'accepted') {
        await recordOrder(input.clientOrderId, outcome.order);
      } else if (outcome.kind === 'rejected') {
        // The alert first: a crash before the ledger update retries into a lookup that settles the order, not here.
        await enqueueNotification(db, orderRejectedAlert({ ...input, reason: outcome.reason.slice(0, 500) }));
        await updateLedgerFromBroker(db, input.clientOrderId, { state: 'REJECTED', rejectReason: outcome.reason.slice(0, 500) });
      } else {
        if (outcome.notSent) await recordUnsentAttempt(db, input.clientOrderId, outcome.reason);
        else {
          await updateLedgerFromBroker(db, input.clientOrderId, { state: 'UNKNOWN' });
          await recordLedgerError(db, input.clientOrderId, outcome.reason);
        }
        // Retryable: the next attempt starts with a lookup by client order id (unless no attempt can have reached it).
        throw ApplicationFailure.retryable(`order ${input.clientOrderId} outcome unknown: ${outcome.reason}`, ErrorType.OrderOutcomeUnknown);
      }
      crashPoint('after_ledger_update');
      return resultOf((await getLedgerOrder(db, input.clientOrderId))!);
    },

    /**
     * Brings a deployment's open ledger rows up to date with the broker (the broker wins) and stores their fills
     * unique on the broker's fill id, then reconciles: an open broker order or a fill whose client id no ledger row
     * has is recorded as a finding (and alerted once); unresolved findings of the account block new orders.
     * Returns the positions recomputed from the fills.
     */
    async syncOrders(args: { deploymentId: string; broker: string; accountId: string }): Promise<SyncOrdersResult> {
      const ctx = Context.current();
      const broker = brokerFor(args.broker);
      try {
        return await sync(ctx, broker, args);
      } catch (err) {
        return configFault(err);
      }
    },
  };
}
