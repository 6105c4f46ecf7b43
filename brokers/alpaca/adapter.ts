import type { z } from 'zod';
import { alpacaErrorMessage, describeNetworkError, MAX_MESSAGE, retryAfterMs, scrub } from './errors';
import {
  BrokerRequestError,
  BrokerUnavailableError,
  MAX_CLIENT_ORDER_ID_LENGTH,
  type BrokerAccount,
  type BrokerFill,
  type BrokerOrder,
  type BrokerPort,
  type BrokerPosition,
  type CancelAllResult,
  type CloseAllResult,
  type ClosePositionRequest,
  type ListFillsQuery,
  type ListOrdersQuery,
  type MarketCalendarDay,
  type MarketClock,
  type OrderRequest,
  type SubmitOutcome,
} from '../port';
import { CalendarDayJsonSchema, ClockJsonSchema, MultiStatusListSchema, toCancelAllResult, toCloseAllResult, toMarketCalendarDay, toMarketClock } from './wire-market';
import {
  AccountJsonSchema,
  FillActivityJsonSchema,
  OrderJsonSchema,
  PositionJsonSchema,
  decimalString,
  toBrokerAccount,
  toBrokerFill,
  toBrokerOrder,
  toBrokerPosition,
} from './wire';

/** Alpaca's documented paper-trading base URL, the default. */
export const ALPACA_PAPER_BASE_URL = 'https://paper-api.alpaca.markets';

export interface AlpacaCredentials {
  keyId: string;
  secretKey: string;
}

export interface AlpacaAdapterOptions {
  /** default: Alpaca paper; point it at the built-in paper broker's URL to use that instead */
  baseUrl?: string;
  /** read at every call, never stored: keys may rotate, and nothing here can leak them later */
  credentials: () => AlpacaCredentials | Promise<AlpacaCredentials>;
  /** per-call timeout, combined with the caller's signal; default 10 s */
  timeoutMs?: number;
  /** the port's `name`; default 'alpaca' */
  name?: string;
  /** whether DELETE /v2/positions/{symbol} takes the caller's client_order_id (the paper broker's extension); default false (Alpaca) */
  closeWithClientOrderId?: boolean;
  /** for tests; default the global fetch */
  fetch?: typeof globalThis.fetch;
  /** wall clock for X-RateLimit-Reset; default Date.now */
  now?: () => number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Alpaca's maximum page sizes: orders 500, account activities 100. */
const MAX_ORDERS_PAGE = 500;
const MAX_ACTIVITIES_PAGE = 100;
/** order id -> client order id entries kept for fills (oldest dropped first). */
const ORDER_ID_CACHE = 10_000;
/** Broker messages are untrusted text: kept short in errors. */

type Reply = { kind: 'reply'; status: number; headers: Headers; json: unknown };
/** notSent: the request certainly never reached the broker (aborted before sending, or no connection was made). */
type TransportFailure = { kind: 'timeout' | 'network' | 'aborted'; message: string; notSent?: true };

/** Network errors that mean no connection was made, so nothing was sent. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * BrokerPort for Alpaca's Trading API v2 (and the built-in paper broker, which speaks the same JSON).
 * Every answer is zod-parsed; keys are sent as APCA-API-KEY-ID / APCA-API-SECRET-KEY and never appear in
 * errors. Submit semantics: 200 accepted; 403 (buying power) and 400/422 rejected, except 422 "client_order_id
 * must be unique", which is unknown; 429, 5xx, timeouts and network failures unknown. Reads turn 429/5xx/
 * timeouts into BrokerUnavailableError and other refusals into BrokerRequestError.
 */
export class AlpacaBroker implements BrokerPort {
  readonly name: string;
  readonly closeWithClientOrderId: boolean;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly credentials: () => AlpacaCredentials | Promise<AlpacaCredentials>;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly now: () => number;
  private readonly clientIds = new Map<string, string>();

  constructor(opts: AlpacaAdapterOptions) {
    this.name = opts.name ?? 'alpaca';
    this.closeWithClientOrderId = opts.closeWithClientOrderId ?? false;
    this.base = (opts.baseUrl ?? ALPACA_PAPER_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.credentials = opts.credentials;
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? Date.now;
  }

  async submitOrder(req: OrderRequest, signal?: AbortSignal): Promise<SubmitOutcome> {
    const invalid = validateRequest(req);
    if (invalid) return { kind: 'rejected', reason: invalid };
    const body: Record<string, string> = {
      symbol: req.symbol,
      qty: decimalString(req.qty),
      side: req.side,
      type: req.type,
      time_in_force: req.timeInForce,
      client_order_id: req.clientOrderId,
    };
    if (req.type === 'limit') body.limit_price = decimalString(req.limitPrice!);

    const { result, secrets } = await this.send('POST', '/v2/orders', { body, signal });
    return this.outcomeOf(result, secrets, `submit ${req.clientOrderId}`);
  }

  /**
   * Alpaca's DELETE /v2/positions/{symbol}, classified like submitOrder; a 404 "position does not exist" is a
   * rejection (status 404). The client order id goes along as `client_order_id` only to brokers that take it.
   */
  async closePosition(req: ClosePositionRequest, signal?: AbortSignal): Promise<SubmitOutcome> {
    const invalid = validateClose(req, this.closeWithClientOrderId);
    if (invalid) return { kind: 'rejected', reason: invalid };
    const query: Record<string, string> = {};
    if (req.qty !== undefined) query.qty = decimalString(req.qty);
    if (req.percentage !== undefined) query.percentage = decimalString(req.percentage);
    if (req.clientOrderId) query.client_order_id = req.clientOrderId;
    const { result, secrets } = await this.send('DELETE', `/v2/positions/${encodeURIComponent(req.symbol)}`, { query, signal });
    return this.outcomeOf(result, secrets, `close ${req.symbol}${req.clientOrderId ? ` as ${req.clientOrderId}` : ''}`, /position/i);
  }

  /** The exactly-once classification of an answer to a request that creates an order. */
  private outcomeOf(result: Reply | TransportFailure, secrets: string[], what: string, positionNotFound?: RegExp): SubmitOutcome {
    if (result.kind !== 'reply') return { kind: 'unknown', reason: `${what}: ${result.message}`, ...(result.notSent ? { notSent: true as const } : {}) };
    const { status } = result;
    if (status === 200 || status === 201) {
      const parsed = OrderJsonSchema.safeParse(result.json);
      // The broker said yes but we cannot read the order: it probably exists, so resolve by lookup.
      if (!parsed.success) return { kind: 'unknown', reason: `${what}: unreadable order in a ${status} answer` };
      return { kind: 'accepted', order: this.remember(toBrokerOrder(parsed.data)) };
    }
    const message = alpacaErrorMessage(result.json, secrets);
    if (status === 401 || (status === 403 && isAuthMessage(message))) {
      throw new BrokerRequestError(`${this.name} ${what}: not authorized (${status}): check the API key id and secret`, status);
    }
    if (status === 404 && positionNotFound?.test(message)) return { kind: 'rejected', reason: message, status };
    if (status === 404) throw new BrokerRequestError(`${this.name} ${what}: ${status} ${message} (wrong base URL?)`, status);
    if (status === 422 && /client_order_id must be unique/i.test(message)) {
      return { kind: 'unknown', reason: `${what}: duplicate client_order_id (an order with this id exists or existed): look it up` };
    }
    if (status === 403 || status === 422 || status === 400) return { kind: 'rejected', reason: message || `HTTP ${status}`, status };
    if (status === 429) return { kind: 'unknown', reason: `${what}: rate limited (429)`, retryAfterMs: this.retryAfterMs(result.headers) };
    // 5xx, 408, 409 and anything unexpected: the order may or may not exist.
    return { kind: 'unknown', reason: `${what}: HTTP ${status} ${message}`.trim() };
  }

  async getOrderByClientId(clientOrderId: string, signal?: AbortSignal): Promise<BrokerOrder | null> {
    const json = await this.read('GET', '/v2/orders:by_client_order_id', { query: { client_order_id: clientOrderId }, signal, notFoundIsNull: true });
    if (json === null) return null;
    return this.remember(toBrokerOrder(this.parse(OrderJsonSchema, json, 'order')));
  }

  async listOrders(q: ListOrdersQuery, signal?: AbortSignal): Promise<BrokerOrder[]> {
    const query: Record<string, string> = { status: q.status, direction: 'asc', limit: String(clampPage(q.limit, MAX_ORDERS_PAGE)) };
    if (q.after) query.after = q.after;
    const json = await this.read('GET', '/v2/orders', { query, signal });
    return this.parse(OrderJsonSchema.array(), json, 'order list').map((o) => this.remember(toBrokerOrder(o)));
  }

  async cancelOrder(orderId: string, signal?: AbortSignal): Promise<void> {
    await this.read('DELETE', `/v2/orders/${encodeURIComponent(orderId)}`, { signal });
  }

  async listFills(q: ListFillsQuery, signal?: AbortSignal): Promise<BrokerFill[]> {
    const query: Record<string, string> = { direction: 'asc', page_size: String(clampPage(q.limit, MAX_ACTIVITIES_PAGE)) };
    if (q.after) query.after = q.after;
    if (q.pageToken) query.page_token = q.pageToken;
    const json = await this.read('GET', '/v2/account/activities/FILL', { query, signal });
    const activities = this.parse(FillActivityJsonSchema.array(), json, 'fill list');
    // Fill activities name the order id only; the client id comes from orders seen before or one lookup per order.
    for (const orderId of new Set(activities.map((a) => a.order_id))) {
      if (this.clientIds.has(orderId)) continue;
      const order = await this.read('GET', `/v2/orders/${encodeURIComponent(orderId)}`, { signal, notFoundIsNull: true });
      if (order !== null) this.remember(toBrokerOrder(this.parse(OrderJsonSchema, order, 'order')));
    }
    return activities.map((a) => toBrokerFill(a, this.clientIds.get(a.order_id) ?? ''));
  }

  async listPositions(signal?: AbortSignal): Promise<BrokerPosition[]> {
    const json = await this.read('GET', '/v2/positions', { signal });
    return this.parse(PositionJsonSchema.array(), json, 'position list').map(toBrokerPosition);
  }

  async getAccount(signal?: AbortSignal): Promise<BrokerAccount> {
    return toBrokerAccount(this.parse(AccountJsonSchema, await this.read('GET', '/v2/account', { signal }), 'account'));
  }

  async getPosition(symbol: string, signal?: AbortSignal): Promise<BrokerPosition | null> {
    const json = await this.read('GET', `/v2/positions/${encodeURIComponent(symbol)}`, { signal, notFoundIsNull: true });
    return json === null ? null : toBrokerPosition(this.parse(PositionJsonSchema, json, 'position'));
  }

  async closeAllPositions(opts: { cancelOrders: boolean }, signal?: AbortSignal): Promise<CloseAllResult[]> {
    const { json, secrets } = await this.readWithSecrets('DELETE', '/v2/positions', { query: { cancel_orders: String(opts.cancelOrders) }, signal });
    return this.parse(MultiStatusListSchema, json ?? [], 'close-all answer').map((r) => {
      const out = toCloseAllResult(r);
      if (out.order) this.remember(out.order);
      return out.message === undefined ? out : { ...out, message: scrub(out.message, secrets) };
    });
  }

  async cancelAllOrders(signal?: AbortSignal): Promise<CancelAllResult[]> {
    const json = await this.read('DELETE', '/v2/orders', { signal });
    return this.parse(MultiStatusListSchema, json ?? [], 'cancel-all answer').map(toCancelAllResult);
  }

  async getClock(signal?: AbortSignal): Promise<MarketClock> {
    return toMarketClock(this.parse(ClockJsonSchema, await this.read('GET', '/v2/clock', { signal }), 'clock'));
  }

  async getCalendar(q: { start: string; end: string }, signal?: AbortSignal): Promise<MarketCalendarDay[]> {
    const json = await this.read('GET', '/v2/calendar', { query: { start: q.start, end: q.end }, signal });
    return this.parse(CalendarDayJsonSchema.array(), json, 'calendar').map(toMarketCalendarDay);
  }

  /** A read (or cancel): the parsed JSON body, null for a 404 when asked, or a typed error. */
  private async read(
    method: 'GET' | 'DELETE',
    path: string,
    opts: { query?: Record<string, string>; signal?: AbortSignal; notFoundIsNull?: boolean },
  ): Promise<unknown> {
    return (await this.readWithSecrets(method, path, opts)).json;
  }

  private async readWithSecrets(
    method: 'GET' | 'DELETE',
    path: string,
    opts: { query?: Record<string, string>; signal?: AbortSignal; notFoundIsNull?: boolean },
  ): Promise<{ json: unknown; secrets: string[] }> {
    const { result, secrets } = await this.send(method, path, opts);
    const what = `${this.name} ${method} ${path}`;
    if (result.kind === 'aborted' && opts.signal?.aborted) throw opts.signal.reason ?? new Error(`${what}: aborted`);
    if (result.kind !== 'reply') throw new BrokerUnavailableError(`${what}: ${result.message}`);
    const { status } = result;
    if (status >= 200 && status < 300) return { json: result.json, secrets };
    if (status === 404 && opts.notFoundIsNull) return { json: null, secrets };
    const message = alpacaErrorMessage(result.json, secrets);
    if (status === 429) throw new BrokerUnavailableError(`${what}: rate limited (429)`, { status, retryAfterMs: this.retryAfterMs(result.headers) });
    if (status >= 500 || status === 408) throw new BrokerUnavailableError(`${what}: HTTP ${status} ${message}`.trim(), { status });
    if (status === 401 || (status === 403 && isAuthMessage(message))) {
      throw new BrokerRequestError(`${what}: not authorized (${status}): check the API key id and secret`, status);
    }
    throw new BrokerRequestError(`${what}: HTTP ${status} ${message}`.trim(), status);
  }

  /**
   * One HTTP exchange with the per-call timeout. Returns the secrets used, so callers can scrub them from
   * anything the broker echoes; the secrets are never put into an error or a log line.
   */
  private async send(
    method: string,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown; signal?: AbortSignal },
  ): Promise<{ result: Reply | TransportFailure; secrets: string[] }> {
    let creds: AlpacaCredentials;
    try {
      creds = await this.credentials();
    } catch {
      throw new BrokerRequestError(`${this.name}: the credentials callback failed`, 401);
    }
    const secrets = [creds.secretKey, creds.keyId].filter((s) => s.length >= 4);
    if (opts.signal?.aborted) return { result: { kind: 'aborted', message: 'aborted by the caller', notSent: true }, secrets };
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = { 'APCA-API-KEY-ID': creds.keyId, 'APCA-API-SECRET-KEY': creds.secretKey, accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await this.fetchFn(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal });
      const text = await res.text();
      let json: unknown = undefined;
      if (text.length) {
        try {
          json = JSON.parse(text);
        } catch {
          json = { message: text.slice(0, MAX_MESSAGE) };
        }
      }
      return { result: { kind: 'reply', status: res.status, headers: res.headers, json }, secrets };
    } catch (err) {
      if (timeout.aborted) return { result: { kind: 'timeout', message: `no answer within ${this.timeoutMs} ms` }, secrets };
      if (opts.signal?.aborted) return { result: { kind: 'aborted', message: 'aborted by the caller' }, secrets };
      const code = describeNetworkError(err);
      return { result: { kind: 'network', message: scrub(`network error: ${code}`, secrets), ...(CONNECT_FAILURES.has(code) ? { notSent: true as const } : {}) }, secrets };
    }
  }

  private parse<S extends z.ZodType>(schema: S, json: unknown, what: string): z.infer<S> {
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new BrokerUnavailableError(`${this.name}: unreadable ${what} (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`, { status: 502 });
  }

  private remember(order: BrokerOrder): BrokerOrder {
    if (!this.clientIds.has(order.id)) {
      if (this.clientIds.size >= ORDER_ID_CACHE) this.clientIds.delete(this.clientIds.keys().next().value!);
      this.clientIds.set(order.id, order.clientOrderId);
    }
    return order;
  }

  private retryAfterMs(headers: Headers): number | undefined {
    return retryAfterMs(headers, this.now());
  }

}

/** A close the broker would refuse (or could not tag with the caller's id), refused locally without a call. */
function validateClose(req: ClosePositionRequest, takesClientOrderId: boolean): string | undefined {
  if (!req.symbol) return 'symbol is empty';
  if (req.qty !== undefined && req.percentage !== undefined) return 'qty and percentage cannot be used together';
  if (req.qty !== undefined && !(Number.isFinite(req.qty) && req.qty > 0)) return 'qty must be a positive number';
  if (req.percentage !== undefined && !(Number.isFinite(req.percentage) && req.percentage > 0 && req.percentage <= 100)) return 'percentage must be in (0, 100]';
  if (req.clientOrderId !== undefined) {
    if (!takesClientOrderId) return 'this broker names closing orders itself: close through the ledger with a market order instead';
    if (!req.clientOrderId || req.clientOrderId.length > MAX_CLIENT_ORDER_ID_LENGTH) return `client_order_id must be 1..${MAX_CLIENT_ORDER_ID_LENGTH} characters`;
  }
  return undefined;
}

/** A request the broker would refuse anyway, refused locally without a call. */
function validateRequest(req: OrderRequest): string | undefined {
  if (!req.clientOrderId) return 'client_order_id is empty';
  if (req.clientOrderId.length > MAX_CLIENT_ORDER_ID_LENGTH) return `client_order_id is longer than ${MAX_CLIENT_ORDER_ID_LENGTH} characters`;
  if (!req.symbol) return 'symbol is empty';
  if (!Number.isFinite(req.qty) || req.qty <= 0) return 'qty must be a positive number';
  if (req.type === 'limit' && (req.limitPrice === undefined || !Number.isFinite(req.limitPrice) || req.limitPrice <= 0)) {
    return 'a limit order needs a positive limitPrice';
  }
  if (req.type === 'market' && req.limitPrice !== undefined) return 'a market order takes no limitPrice';
  return undefined;
}

function clampPage(limit: number | undefined, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return max;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}

function isAuthMessage(message: string): boolean {
  return /^forbidden\.?$|not authorized|unauthorized/i.test(message.trim());
}

