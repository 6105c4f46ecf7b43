import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrokerGuardRefusal } from '../brokers/guard/errors';
import { BrokerRequestError, type BrokerOrder, type BrokerPort, type OrderStatus, type SubmitOutcome } from '../brokers/port';
import { claimAccountSync, fillsBehindLedger, positionsFromFills } from '../db/sql/fills';
import { openDiscrepancies, type Discrepancy } from '../db/sql/broker-discrepancies';
import { enqueueNotification } from '../db/sql/notifications';
import { createAccountReconciler } from './account-fills';
import {
  accountPendingInFlight,
  deploymentExposureInFlight,
  getLedgerOrder,
  insertLedgerSubmitting,
  lockSymbolGate,
  markLedgerSubmitting,
  markLedgerUnknownIfSubmitting,
  openLedgerOrders,
  recordLedgerError,
  recordUnsentAttempt,
  updateLedgerFromBroker,
  updateLedgerFromBrokerReturningRow,
  type LedgerBrokerUpdate,
  type LedgerIntent,
  type LedgerOrder,
} from '../db/sql/order-ledger';
import type { ConnectionPool, Queryable } from '../db/sql/queryable';
import { acquireSymbolLock, releaseLocksExcept, renewSymbolLocks } from '../db/sql/symbol-locks';
import { SYMBOL_LOCK_TTL_MS } from '../domain/eod/policy';
import { lockLedgerOrderReadingHalts } from '../db/sql/submission-gate';
import { beginHoldingTradingGate } from '../db/sql/trading-halts';
import { MAYBE_SENT_STATES, UNRESOLVED_STATES, type LedgerState } from '../domain/orders';
import { isExposureReducing, QTY_TOLERANCE } from '../domain/risk/gate';
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
  /**
   * An entry takes the (account, symbol) lock for its deployment before its ledger row is written (db/sql/symbol-locks.ts):
   * when another deployment holds it, nothing is written or sent and the result is REJECTED with `lockedBy`.
   */
  symbolLock?: { ttlMs: number };
  /**
   * How the reduce-only check (any kill-switch scope or an end-of-day window on) measures the order: 'deployment'
   * (default) against the deployment's ledger position and its orders in flight; 'broker' against the broker's own
   * position and the account's orders in flight (a liquidation's close of a position no deployment holds).
   */
  reduceOnlyBy?: 'deployment' | 'broker';
}

export interface PlaceOrderResult {
  clientOrderId: string;
  state: LedgerState;
  brokerOrderId: string | null;
  rejectReason?: string;
  /** wall-clock ms when the result was read (the runtime's cycle latency ends here) */
  at?: number;
  /** the deployment holding the symbol's lock, when an entry was refused for it ('' when it was released meanwhile) */
  lockedBy?: string;
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

/** An unresolved reconciliation finding as a sync reports it (it blocks new orders on the account). */
export const blockingFinding = (d: Pick<Discrepancy, 'kind' | 'brokerRef' | 'symbol' | 'clientOrderId' | 'id'>): string =>
  `${d.kind === 'unknown_order' ? 'unknown broker order' : 'unknown fill'} ${d.brokerRef} (${d.symbol}, client id ${d.clientOrderId || 'none'}; finding ${d.id})`;

/** The canonical hash of what an order is, so the same client id can never stand for two different orders. */
export function intentHash(i: Pick<PlaceOrderInput, 'symbol' | 'side' | 'qty' | 'orderType' | 'limitPrice' | 'timeInForce' | 'broker' | 'accountId' | 'route'>): string {
  const fields: unknown[] = [i.broker, i.accountId, i.symbol, i.side, i.qty, i.orderType, i.limitPrice ?? null, i.timeInForce];
  // Ordinary orders keep the hash they always had; a close can never share a client id with an ordinary order.
  if (i.route === 'close_position') fields.push(i.route);
  const canonical = JSON.stringify(fields);
  return createHash('sha256').update(canonical).digest('hex');
}

/** What the broker says about an order, as its ledger row records it. */
const ledgerUpdateOf = (order: BrokerOrder): LedgerBrokerUpdate => ({
  state: LEDGER_STATE_OF[order.status],
  brokerOrderId: order.id,
  filledQty: order.filledQty,
  avgFillPrice: order.filledAvgPrice,
  ...(order.status === 'rejected' ? { rejectReason: 'rejected by broker' } : {}),
});

/** Records what the broker says about an order on its ledger row. */
export async function recordBrokerOrder(db: Queryable, clientOrderId: string, order: BrokerOrder): Promise<void> {
  await updateLedgerFromBroker(db, clientOrderId, ledgerUpdateOf(order));
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
 * Under a halt (kill switch or end of day) only exposure-reducing orders go out. Checked under the (account, symbol)
 * lock, held until the broker answers, against the worst case of the orders already in flight: a sell must fit in
 * the long position left after every sell in flight fills and no buy does (a buy mirrors it). Returns why the order
 * is refused, or undefined.
 */
async function reduceOnlyRefusal(gate: Queryable, broker: BrokerPort, input: PlaceOrderInput, signal: AbortSignal): Promise<string | undefined> {
  await lockSymbolGate(gate, input.accountId, input.symbol);
  let base: number;
  if (input.reduceOnlyBy === 'broker') {
    const position = (await broker.getPosition(input.symbol, signal))?.qty ?? 0;
    const pending = await accountPendingInFlight(gate, input.accountId, input.symbol, input.clientOrderId);
    base = input.side === 'sell' ? position - pending.pendingSell : position + pending.pendingBuy;
  } else {
    const e = await deploymentExposureInFlight(gate, input.deploymentId, input.symbol, input.clientOrderId);
    base = input.side === 'sell' ? e.filled - e.pendingSell : e.filled + e.pendingBuy;
  }
  if (isExposureReducing(base, { side: input.side, qty: input.qty })) return undefined;
  return `${input.side} ${input.qty} ${input.symbol} would not reduce the ${input.reduceOnlyBy === 'broker' ? "broker's" : "deployment's"} position (${base} after the orders in flight)`;
}

/**
 * Order placement with an exactly-once effect on top of at-least-once activities:
 * ledger row (SUBMITTING) committed before the broker call; on a retry, look the order up by client id before any resubmit;
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
  // One round trip where an update is followed by the result: the row as updated, read again only when the update
  // did not apply (the row was final already), so the result is what the ledger holds either way.
  const updateForResult = async (clientOrderId: string, u: LedgerBrokerUpdate): Promise<PlaceOrderResult> =>
    resultOf((await updateLedgerFromBrokerReturningRow(db, clientOrderId, u)) ?? (await getLedgerOrder(db, clientOrderId))!);

  const reconciler = createAccountReconciler(db, () => crashPoint('mid_fill_ingest'));

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
    // Read the account's fills from the stored cursor onward and store each once; fills of other deployments on the
    // same account are stored for them too. Then the broker's open orders: one the ledger does not know blocks.
    const account = { broker: args.broker, accountId: args.accountId, foundBy: args.deploymentId };
    if (listAccount) {
      const ingested = await reconciler.ingestFills(ctx, broker, account);
      newFills = ingested.stored.get(args.deploymentId) ?? 0;
      unknownFills = ingested.unknown;
      await reconciler.flagUnknownOrders(await broker.listOrders({ status: 'open' }, ctx.cancellationSignal), account);
    }
    const blockedBy = (await openDiscrepancies(db, args.broker, args.accountId, 5)).map(blockingFinding);
    const positions = await positionsFromFills(db, args.deploymentId);
    // Symbol locks: renewed where this deployment holds a position or has an order open, released elsewhere (flat).
    const keep = [...new Set([...positions.filter((p) => Math.abs(p.qty) > QTY_TOLERANCE).map((p) => p.symbol), ...open.map((o) => o.symbol)])];
    await renewSymbolLocks(db, args.accountId, args.deploymentId, keep, SYMBOL_LOCK_TTL_MS);
    await releaseLocksExcept(db, args.accountId, [args.deploymentId], keep);
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
      if (input.symbolLock) {
        const take = () => acquireSymbolLock(db, { accountId: input.accountId, symbol: input.symbol, holder: input.deploymentId, ttlMs: input.symbolLock!.ttlMs });
        let lock = await take();
        // Neither taken nor a holder seen: a concurrent taker's row committed after this statement's snapshot. Once more.
        if (!lock.taken && !lock.holder) lock = await take();
        // Lost: nothing is written or sent, unless an earlier attempt (which held the lock) already wrote the order.
        if (!lock.taken && !(await getLedgerOrder(db, input.clientOrderId))) {
          const who = lock.holder ? `deployment ${lock.holder}` : 'another deployment';
          return { clientOrderId: input.clientOrderId, state: 'REJECTED', brokerOrderId: null, rejectReason: `symbol-locked: ${input.symbol} on ${input.accountId} is held by ${who}`, lockedBy: lock.holder, at: Date.now() };
        }
      }
      crashPoint('before_ledger_insert');
      // SUBMITTING is committed before anything is sent, so a crash from here on is resolved by lookup. A new row is
      // written SUBMITTING at once (no attempt can have sent it: nothing to look up); an existing one is looked at first.
      const { order, created } = await insertLedgerSubmitting(db, { ...input, intentHash: intentHash(input) });
      if (order.intentHash !== intentHash(input)) {
        throw ApplicationFailure.nonRetryable(`client order id ${input.clientOrderId} is already used by a different order`, ErrorType.IntentMismatch);
      }
      crashPoint('after_ledger_insert');
      if (!UNRESOLVED_STATES.includes(order.state)) return resultOf(order);

      if (!created) {
        if (order.state !== 'INTENT') {
          // A previous attempt may have reached the broker: find out before sending anything.
          const found = await broker.getOrderByClientId(input.clientOrderId, ctx.cancellationSignal).catch(async (err: unknown) => {
            await recordLedgerError(db, input.clientOrderId, `lookup: ${(err as Error).message}`);
            return configFault(err);
          });
          if (found) return updateForResult(input.clientOrderId, ledgerUpdateOf(found));
        }
        await markLedgerSubmitting(db, input.clientOrderId);
      }
      // The kill-switch check and the send happen under the trading gate (shared): a halt committed after
      // this check waits until the broker has answered, so nothing checked before it leaves after it. The ledger
      // row is locked for as long: a stop that cancels this order waits for the answer, or this attempt sees the
      // row CANCELED (or already resolved at the broker) and sends nothing.
      const gate = await (gatePool ?? db).connect();
      let outcome: Awaited<ReturnType<BrokerPort['submitOrder']>> | { kind: 'halted'; why: string } | { kind: 'settled' };
      try {
        // BEGIN and the gate in one round trip (a simple query: no parameters).
        await beginHoldingTradingGate(gate);
        // Row lock and halt check in one round trip, after the gate is held (its own statement: see submission-gate.ts).
        const checked = await lockLedgerOrderReadingHalts(gate, input.clientOrderId, input.accountId, input.deploymentId);
        const halts = checked?.halts;
        const halted = halts?.global ? 'global' : halts?.account ? 'account' : halts?.deployment ? 'deployment' : halts?.eod ? 'eod' : undefined;
        const maySend = checked && MAYBE_SENT_STATES.includes(checked.order.state);
        const refusal = maySend && halted ? await reduceOnlyRefusal(gate, broker, input, ctx.cancellationSignal) : undefined;
        outcome =
          !maySend
            ? { kind: 'settled' }
            : refusal
              ? { kind: 'halted', why: halted === 'eod' ? `end of day: reduce-only until the next open (${refusal})` : `kill switch (${halted}) is on (${refusal})` }
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
      if (outcome.kind === 'halted') return updateForResult(input.clientOrderId, { state: 'REJECTED', rejectReason: outcome.why.slice(0, 500) });
      crashPoint('after_broker_send');
      let recorded: PlaceOrderResult;
      if (outcome.kind === 'accepted') {
        recorded = await updateForResult(input.clientOrderId, ledgerUpdateOf(outcome.order));
      } else if (outcome.kind === 'rejected') {
        // The alert first: a crash before the ledger update retries into a lookup that settles the order, not here.
        await enqueueNotification(db, orderRejectedAlert({ ...input, reason: outcome.reason.slice(0, 500) }));
        recorded = await updateForResult(input.clientOrderId, { state: 'REJECTED', rejectReason: outcome.reason.slice(0, 500) });
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
      return { ...recorded, at: Date.now() };
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
