import { QTY_TOLERANCE } from '../risk/gate';
import type { PARTIAL_FILL_POLICIES } from './spec';

/**
 * The unfilled remainder of a partially filled order, handled by the deployment's named policy instead of forgotten:
 *  - cancel-and-replace: an order still working with a partial fill at the next cycle is cancelled at the broker, and
 *    once the broker confirms (its final filled quantity known) the rest is sent as a new order;
 *  - top-up: the order keeps working; when the broker ends it with a remainder (expired at the end of the day,
 *    cancelled) the rest is sent as a new order.
 * The new order is the original's leg with the next intent version, so its client order id (domain/ids) is derived
 * from the original's and the ledger makes it exactly once: a retry, a replay or a second cycle can never send it
 * twice. At most MAX_REMAINDER_VERSION versions per leg (a broker that never fills is not chased forever).
 */
export type PartialFillPolicy = (typeof PARTIAL_FILL_POLICIES)[number];

export const MAX_REMAINDER_VERSION = 10;

/** A ledger row with a partial fill and no next version yet (db/sql/order-ledger.ts partialRemainders). */
export interface PartialOrder {
  clientOrderId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  filledQty: number;
  /** PARTIAL: still working at the broker; CANCELED: ended by the broker (or by a cancel-and-replace) with a remainder */
  state: 'PARTIAL' | 'CANCELED';
  cycle: number;
  leg: number;
  intentVersion: number;
}

export type RemainderStep =
  | { action: 'wait'; detail: string }
  | { action: 'cancel'; detail: string }
  | { action: 'resend'; qty: number; intentVersion: number; detail: string }
  | { action: 'none'; detail: string };

export function remainderStep(order: PartialOrder, policy: PartialFillPolicy): RemainderStep {
  const rest = order.qty - order.filledQty;
  const what = `${order.side} ${order.filledQty} of ${order.qty} ${order.symbol} filled (order ${order.clientOrderId})`;
  if (!(rest > QTY_TOLERANCE)) return { action: 'none', detail: `${what}: nothing left` };
  if (order.intentVersion >= MAX_REMAINDER_VERSION) return { action: 'none', detail: `${what}: ${MAX_REMAINDER_VERSION} versions sent, the remainder is left` };
  if (order.state === 'PARTIAL') {
    return policy === 'cancel-and-replace'
      ? { action: 'cancel', detail: `cancel-and-replace: ${what}, cancelling the remainder` }
      : { action: 'wait', detail: `top-up: ${what}, still working` };
  }
  return { action: 'resend', qty: rest, intentVersion: order.intentVersion + 1, detail: `${policy}: ${what}, ${rest} re-sent` };
}
