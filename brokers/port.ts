/**
 * The one port every order activity talks to. Two implementations exist: the Alpaca adapter
 * (brokers/alpaca) for Alpaca's Trading API v2, and the built-in paper broker (brokers/paper), a local
 * HTTP service that speaks the same JSON, so the Alpaca adapter is the client for both.
 *
 * Exactly-once effect (DESIGN.md "Exactly-once effect for orders"): `submitOrder` answers accepted,
 * rejected or unknown. Unknown (timeout, 5xx, 429, duplicate client id, unreadable answer) is resolved by
 * `getOrderByClientId`, and only if that finds nothing may the caller submit again, with the SAME
 * client order id. Never resubmit blindly, never invent a new id for the same intent.
 *
 * Refinements to the original sketch (kept narrow):
 * - `SubmitOutcome.unknown` carries `retryAfterMs` (from a 429's Retry-After / X-RateLimit-Reset) and
 *   `rejected` carries the HTTP `status`, so callers can back off and audit without parsing strings.
 * - `BrokerOrder.type` may be `'other'` for stop / stop-limit / trailing orders someone placed by hand:
 *   reconciliation must be able to list them without a parse failure.
 * - `listFills` takes `pageToken` (a fill id; results start strictly after it) besides `after` (a time):
 *   several fills can share a timestamp, so a time watermark alone can skip fills; a fill-id cursor cannot.
 * - `BrokerRequestError` for non-retryable refusals of reads and cancels (4xx such as 404 or a 422
 *   "not cancelable") and for authentication failures, which `submitOrder` throws instead of calling the
 *   order rejected: a wrong key is a configuration fault, not a trading decision.
 * - For end-of-day liquidation: `getPosition`, `closePosition` (classified like `submitOrder`),
 *   `closeAllPositions`, `cancelAllOrders`, `getClock`, `getCalendar`. Liquidation closes positions through the
 *   ledger with ordinary market orders; closePosition is the last resort (brokers/README.md, "Closing positions").
 */

export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit';
export type TimeInForce = 'day' | 'gtc' | 'ioc';
export type OrderStatus = 'new' | 'accepted' | 'partially_filled' | 'filled' | 'canceled' | 'rejected' | 'expired';

export const ORDER_SIDES = ['buy', 'sell'] as const satisfies readonly OrderSide[];
export const ORDER_TYPES = ['market', 'limit'] as const satisfies readonly OrderType[];
export const TIMES_IN_FORCE = ['day', 'gtc', 'ioc'] as const satisfies readonly TimeInForce[];

/** Alpaca's documented limit for `client_order_id`. */
export const MAX_CLIENT_ORDER_ID_LENGTH = 48;

export interface OrderRequest {
  /** deterministic per intent (workflow id + cycle + leg + intent version), at most 48 characters */
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  /** > 0; fractional quantities are allowed */
  qty: number;
  type: OrderType;
  /** required for limit orders */
  limitPrice?: number;
  timeInForce: TimeInForce;
}

export interface BrokerOrder {
  /** the broker's order id */
  id: string;
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  /** 'other' for order types this platform never places (stop, stop_limit, trailing_stop) */
  type: OrderType | 'other';
  qty: number;
  filledQty: number;
  filledAvgPrice: number | null;
  limitPrice: number | null;
  /** broker statuses this port does not name map to the nearest open status, never to a terminal one */
  status: OrderStatus;
  submittedAt: string;
  updatedAt: string;
}

export interface BrokerFill {
  /** the broker's fill id, unique: store fills unique on it so stream and polling duplicates collapse */
  id: string;
  orderId: string;
  /** '' only if the broker could not name the order of this fill */
  clientOrderId: string;
  symbol: string;
  side: OrderSide;
  qty: number;
  price: number;
  ts: string;
}

export interface BrokerPosition {
  symbol: string;
  /** signed: negative for a short position */
  qty: number;
  avgEntryPrice: number;
  /** signed like qty: the part open orders on the closing side do not hold (Alpaca's qty_available); absent when the broker does not say */
  qtyAvailable?: number;
  /** the broker's current price of the symbol, when it reports one */
  currentPrice?: number;
}

/** Close one position with a market order on the closing side (Alpaca's DELETE /v2/positions/{symbol}). */
export interface ClosePositionRequest {
  symbol: string;
  /** shares to close; default the whole position */
  qty?: number;
  /** percent of the position to close, 0 < percentage <= 100 (whole shares unless the position is fractional); not with qty */
  percentage?: number;
  /**
   * Tag the closing order with this client order id (written to the ledger first, so a lost answer is resolved by
   * lookup). Only brokers with `closeWithClientOrderId` take it; Alpaca names closing orders itself.
   */
  clientOrderId?: string;
}

/** One symbol of a close-all: HTTP status 200 with the closing order, or the broker's refusal. */
export interface CloseAllResult {
  symbol: string;
  status: number;
  order: BrokerOrder | null;
  message?: string;
}

/** One order of a cancel-all. */
export interface CancelAllResult {
  orderId: string;
  status: number;
  order: BrokerOrder | null;
}

/** The broker's market clock (Alpaca's GET /v2/clock), instants as epoch ms. */
export interface MarketClock {
  timestampMs: number;
  isOpen: boolean;
  nextOpenMs: number;
  nextCloseMs: number;
}

/** One trading day of the broker's calendar (Alpaca's GET /v2/calendar). */
export interface MarketCalendarDay {
  /** YYYY-MM-DD, the exchange's local date */
  date: string;
  openMs: number;
  closeMs: number;
  /** YYYY-MM-DD */
  settlementDate: string;
}

export interface BrokerAccount {
  cash: number;
  equity: number;
  buyingPower: number;
}

/**
 * accepted / rejected / unknown: a timeout, 5xx, 429 or duplicate-id answer is "unknown", resolved by
 * lookup, never by a blind resubmit. `rejected` means the broker certainly did not create the order.
 */
export type SubmitOutcome =
  | { kind: 'accepted'; order: BrokerOrder }
  | { kind: 'rejected'; reason: string; status?: number }
  /** notSent: the request certainly never reached the broker (no connection was made): no order can exist from it */
  | { kind: 'unknown'; reason: string; retryAfterMs?: number; notSent?: true };

export interface ListOrdersQuery {
  status: 'open' | 'closed' | 'all';
  /** ISO time: orders submitted strictly after it (ascending order) */
  after?: string;
  /** page size; the Alpaca adapter defaults to 500, Alpaca's maximum */
  limit?: number;
}

export interface ListFillsQuery {
  /** ISO time: fills strictly after it */
  after?: string;
  /** a fill id from an earlier answer: fills strictly after that fill (the gap-free cursor) */
  pageToken?: string;
  /** page size, at most 100 (Alpaca's maximum); fills come oldest first */
  limit?: number;
}

export interface BrokerPort {
  readonly name: string;
  /** Never throws for a trading outcome; throws BrokerRequestError only when the call was refused before any order could exist (authentication, bad endpoint). */
  submitOrder(req: OrderRequest, signal?: AbortSignal): Promise<SubmitOutcome>;
  /** null when the broker has no order with this client id */
  getOrderByClientId(clientOrderId: string, signal?: AbortSignal): Promise<BrokerOrder | null>;
  listOrders(q: ListOrdersQuery, signal?: AbortSignal): Promise<BrokerOrder[]>;
  /** cancels the unfilled remainder; BrokerRequestError status 422 when the order is no longer cancelable, 404 when unknown */
  cancelOrder(orderId: string, signal?: AbortSignal): Promise<void>;
  listFills(q: ListFillsQuery, signal?: AbortSignal): Promise<BrokerFill[]>;
  listPositions(signal?: AbortSignal): Promise<BrokerPosition[]>;
  getAccount(signal?: AbortSignal): Promise<BrokerAccount>;
  /** null when the account holds no position in the symbol */
  getPosition(symbol: string, signal?: AbortSignal): Promise<BrokerPosition | null>;
  /** whether closePosition takes the caller's clientOrderId (the paper broker) or the broker names closing orders itself (Alpaca) */
  readonly closeWithClientOrderId: boolean;
  /**
   * Closes (part of) a position with a market order, classified like submitOrder. `rejected` with status 404 when
   * there is no position, 403 when open orders hold the quantity or more than the position is asked for.
   * Creates an order the ledger did not write unless clientOrderId was given (see brokers/README.md).
   */
  closePosition(req: ClosePositionRequest, signal?: AbortSignal): Promise<SubmitOutcome>;
  /** Closes every position (after cancelling every open order when asked); throws BrokerUnavailableError when the outcome is unknown. */
  closeAllPositions(opts: { cancelOrders: boolean }, signal?: AbortSignal): Promise<CloseAllResult[]>;
  /** Cancels every open order; throws BrokerUnavailableError when the outcome is unknown. */
  cancelAllOrders(signal?: AbortSignal): Promise<CancelAllResult[]>;
  getClock(signal?: AbortSignal): Promise<MarketClock>;
  /** trading days from start to end (YYYY-MM-DD, both inclusive) */
  getCalendar(q: { start: string; end: string }, signal?: AbortSignal): Promise<MarketCalendarDay[]>;
}

/** A read or cancel that may succeed later: 429, 5xx, timeout or network failure. Retry with backoff. */
export class BrokerUnavailableError extends Error {
  readonly retryAfterMs?: number;
  readonly status?: number;
  constructor(message: string, opts: { retryAfterMs?: number; status?: number } = {}) {
    super(message);
    this.name = 'BrokerUnavailableError';
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
  }
}

/** A refusal that will not change on retry: authentication, unknown order, not cancelable, bad request. */
export class BrokerRequestError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'BrokerRequestError';
    this.status = status;
  }
}
