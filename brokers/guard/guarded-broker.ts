/**
 * `guardBroker(port, opts)`: a BrokerPort that puts a rate limit and a circuit breaker, shared by every IO worker
 * through Redis, in front of another BrokerPort.
 *
 * Every call takes a token first (waiting up to `limits.maxWaitMs`). A call the guard does not let through throws
 * BrokerGuardRefusal before anything is sent: retryable, with `retryAfterMs`, and never an order in doubt. After
 * the call, failures (5xx, timeouts, 429s, connection errors; not rejections or other 4xx) feed the shared breaker,
 * and a 429's Retry-After pauses the shared bucket for every worker.
 *
 * When Redis cannot be reached the guard fails open: it logs one warning and uses a per-process bucket (a share of
 * the limits) and breaker until Redis answers again. The cache being down never stops trading.
 */
import type { Redis } from 'ioredis';
import {
  BrokerRequestError,
  BrokerUnavailableError,
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
import { CallGuard, NEUTRAL, SUCCESS, type BreakerEvent, type GuardLogger, type Verdict } from './call-guard';
import { BrokerGuardRefusal } from './errors';
import { GuardSettingsSchema, type GuardSettings, type GuardSettingsInput } from './settings';
import type { GuardSnapshot } from './store';

export type GuardBrokerOptions = GuardSettingsInput & {
  redis: Redis;
  logger: GuardLogger;
  /** called once per transition this process caused (a failed probe re-opening the circuit is not one); must not throw */
  onBreaker?: (event: BreakerEvent) => void;
};

/** Wraps `port`; `opts.key` names the broker account whose limit and breaker are shared (see guardKeyFor). */
export function guardBroker(port: BrokerPort, opts: GuardBrokerOptions): GuardedBroker {
  const { redis, logger, onBreaker, ...settings } = opts;
  return new GuardedBroker(port, redis, logger, GuardSettingsSchema.parse(settings), onBreaker);
}

/** Every BrokerPort call through one CallGuard (call-guard.ts); this file only says how a broker's answers count. */
export class GuardedBroker implements BrokerPort {
  readonly name: string;
  readonly key: string;
  private readonly guard: CallGuard;

  constructor(
    private readonly inner: BrokerPort,
    redis: Redis,
    logger: GuardLogger,
    settings: GuardSettings,
    onBreaker?: (event: BreakerEvent) => void,
  ) {
    this.name = inner.name;
    this.key = settings.key;
    this.guard = new CallGuard(redis, logger, settings, 'broker', onBreaker);
  }

  /** New limits and breaker thresholds (a settings reload; throws on a bad value and keeps the old ones). */
  reconfigure(input: Omit<GuardSettingsInput, 'key'>): void {
    this.guard.reconfigure(input);
  }

  /** 'shared' while Redis answers, 'local' while the per-process fallback is in use. */
  get mode(): 'shared' | 'local' {
    return this.guard.mode;
  }

  /** The breaker and bucket this process is using now. */
  status(): Promise<GuardSnapshot & { mode: 'shared' | 'local' }> {
    return this.guard.status();
  }

  submitOrder(req: OrderRequest, signal?: AbortSignal): Promise<SubmitOutcome> {
    return this.guarded(signal, () => this.inner.submitOrder(req, signal), submitVerdict);
  }

  getOrderByClientId(clientOrderId: string, signal?: AbortSignal): Promise<BrokerOrder | null> {
    return this.guarded(signal, () => this.inner.getOrderByClientId(clientOrderId, signal));
  }

  listOrders(q: ListOrdersQuery, signal?: AbortSignal): Promise<BrokerOrder[]> {
    return this.guarded(signal, () => this.inner.listOrders(q, signal));
  }

  cancelOrder(orderId: string, signal?: AbortSignal): Promise<void> {
    return this.guarded(signal, () => this.inner.cancelOrder(orderId, signal));
  }

  listFills(q: ListFillsQuery, signal?: AbortSignal): Promise<BrokerFill[]> {
    return this.guarded(signal, () => this.inner.listFills(q, signal));
  }

  listPositions(signal?: AbortSignal): Promise<BrokerPosition[]> {
    return this.guarded(signal, () => this.inner.listPositions(signal));
  }

  getAccount(signal?: AbortSignal): Promise<BrokerAccount> {
    return this.guarded(signal, () => this.inner.getAccount(signal));
  }

  get closeWithClientOrderId(): boolean {
    return this.inner.closeWithClientOrderId;
  }

  getPosition(symbol: string, signal?: AbortSignal): Promise<BrokerPosition | null> {
    return this.guarded(signal, () => this.inner.getPosition(symbol, signal));
  }

  closePosition(req: ClosePositionRequest, signal?: AbortSignal): Promise<SubmitOutcome> {
    return this.guarded(signal, () => this.inner.closePosition(req, signal), submitVerdict);
  }

  closeAllPositions(opts: { cancelOrders: boolean }, signal?: AbortSignal): Promise<CloseAllResult[]> {
    return this.guarded(signal, () => this.inner.closeAllPositions(opts, signal));
  }

  cancelAllOrders(signal?: AbortSignal): Promise<CancelAllResult[]> {
    return this.guarded(signal, () => this.inner.cancelAllOrders(signal));
  }

  getClock(signal?: AbortSignal): Promise<MarketClock> {
    return this.guarded(signal, () => this.inner.getClock(signal));
  }

  getCalendar(q: { start: string; end: string }, signal?: AbortSignal): Promise<MarketCalendarDay[]> {
    return this.guarded(signal, () => this.inner.getCalendar(q, signal));
  }

  private guarded<T>(signal: AbortSignal | undefined, call: () => Promise<T>, verdictOf: (value: T) => Verdict = () => SUCCESS): Promise<T> {
    return this.guard.run(signal, call, verdictOf, errorVerdict);
  }
}

/**
 * How a submit answer counts for the breaker. Accepted and rejected mean the broker answered. The adapter's
 * unknown outcomes carry no cause field, so it is read from the reasons brokers/alpaca/adapter.ts writes; any
 * other unknown counts as a failure.
 */
export function submitVerdict(outcome: SubmitOutcome): Verdict {
  if (outcome.kind !== 'unknown') return SUCCESS;
  if (outcome.retryAfterMs !== undefined || /\(429\)/.test(outcome.reason)) return { verdict: 'rate_limited', retryAfterMs: outcome.retryAfterMs, reason: outcome.reason };
  // The broker answered: a duplicate client id (the order exists) or a 2xx we could not read.
  if (/duplicate client_order_id|unreadable order/.test(outcome.reason)) return SUCCESS;
  if (/aborted by the caller/.test(outcome.reason)) return NEUTRAL;
  return { verdict: 'failure', reason: outcome.reason };
}

/** How a thrown error counts: BrokerUnavailableError (429, 5xx, timeout, network) is a failure, a 4xx refusal an answer. */
export function errorVerdict(err: unknown, signal?: AbortSignal): Verdict {
  if (signal?.aborted || err instanceof BrokerGuardRefusal) return NEUTRAL;
  if (err instanceof BrokerUnavailableError) {
    return err.status === 429 ? { verdict: 'rate_limited', retryAfterMs: err.retryAfterMs, reason: err.message } : { verdict: 'failure', reason: err.message };
  }
  if (err instanceof BrokerRequestError) return SUCCESS;
  return NEUTRAL;
}
