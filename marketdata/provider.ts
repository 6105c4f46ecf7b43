/**
 * The port every market-data provider implements, and its errors. A provider serves bars of the timeframes in
 * `sessionTimeframes` aligned to the exchange session (the calendar's bars); any other timeframe is aggregated from
 * its `base` bars (marketdata/source.ts), e.g. Alpaca's clock-aligned hours from its 30-minute bars.
 */
import type { Bar, Timeframe } from '../domain/bars';

export interface BarRequest {
  /** one or more symbols (a provider splits them into requests of `maxSymbolsPerRequest`) */
  symbols: readonly string[];
  timeframe: Timeframe;
  /** inclusive bounds on bar open times, epoch ms UTC */
  fromMs: number;
  toMs: number;
  /** the data time of the request (a replay serves only bars closed by it; live providers use the wall clock) */
  asOfMs?: number;
}

export interface MarketDataProvider {
  /** the name deployments and feeds use, e.g. 'alpaca' or 'replay' */
  readonly name: string;
  /** timeframes whose bars are the calendar's bars; others are aggregated from `base` */
  readonly sessionTimeframes: readonly Timeframe[];
  readonly base: Timeframe;
  /** the exchange calendar its bars follow */
  readonly calendar: 'XNYS' | '24x7';
  /**
   * Bars per symbol (ascending, as served: unchecked), symbols without bars left out. Throws
   * MarketDataUnavailableError when a retry may succeed (network, timeout, 429, 5xx, unreadable answer, a rate-limit
   * refusal) and MarketDataRequestError when it will not (4xx: bad symbol, keys, subscription).
   */
  fetchBars(req: BarRequest, signal?: AbortSignal): Promise<Map<string, Bar[]>>;
}

/** A failure that may go away: network, timeout, 429, 5xx, unreadable answer, the shared rate limit. */
export class MarketDataUnavailableError extends Error {
  readonly retryAfterMs?: number;
  readonly status?: number;
  constructor(message: string, opts: { retryAfterMs?: number; status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MarketDataUnavailableError';
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
  }
}

/** A refusal that a retry will not change (4xx: unknown symbol, bad parameters, wrong keys, no subscription). */
export class MarketDataRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'MarketDataRequestError';
  }
}
