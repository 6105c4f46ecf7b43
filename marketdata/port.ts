/**
 * The one port every market-data activity talks to. Implementations:
 * - `AlpacaMarketData` (./alpaca.ts): Alpaca's Market Data API v2, stock bars;
 * - `ReplayProvider` (./replay.ts): bars already stored in Postgres (e.g. an imported CSV), served as if live.
 *
 * Pure module (no Node built-ins, no I/O): workflow code may import its types and `barsToColumns`.
 */
import { allocateBars, appendBar, barAt, type Bar, type BarColumns, type Timeframe } from '../domain/bars';

export type { Bar };

export interface BarQuery {
  symbol: string;
  timeframe: Timeframe;
  /** inclusive bounds on the bar OPEN time, epoch ms UTC */
  fromMs: number;
  toMs: number;
  /** at most this many bars: the EARLIEST ones of the range (page on with fromMs = last ts + 1) */
  limit?: number;
}

export interface MarketDataProvider {
  /** the key activities know it by, e.g. 'alpaca' or 'replay' */
  readonly name: string;
  /**
   * Bars with fromMs <= ts <= toMs, ascending by ts, one per ts. Returns fewer than `limit` bars only when the
   * range holds no more. Throws MarketDataUnavailableError when the call may succeed later (network, timeout,
   * 429, 5xx, unreadable answer) and MarketDataRequestError when it will not (4xx: bad symbol, bad keys).
   */
  fetchBars(q: BarQuery, signal?: AbortSignal): Promise<Bar[]>;
  /**
   * The provider's "now" on the data time axis, when it differs from the wall clock (a replay at speed 60, or one
   * shifted in time). Activities validate "not in the future" and measure delay against it. Absent: wall clock.
   */
  dataNow?(): number;
}

/** A failure that may go away: network, timeout, 429, 5xx, unreadable answer. Retry with backoff. */
export class MarketDataUnavailableError extends Error {
  /** when the provider said how long to wait (429 Retry-After / X-RateLimit-Reset) */
  readonly retryAfterMs?: number;
  readonly status?: number;
  constructor(message: string, opts: { retryAfterMs?: number; status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MarketDataUnavailableError';
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
  }
}

/** A refusal that will not change on retry (4xx: unknown symbol, bad parameters, wrong keys, no subscription). */
export class MarketDataRequestError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'MarketDataRequestError';
    this.status = status;
  }
}

/**
 * ApplicationFailure types the market-data activities throw (retry policies name them). Kept here rather than in
 * workflows/errors.ts, which this change does not own; they may move there.
 */
export const MarketDataErrorType = {
  /** retryable: provider down, or Redis and Postgres both unavailable; a deployment cycle skips */
  Unavailable: 'MarketDataUnavailable',
  /** non-retryable: the provider refused the request (4xx) */
  RequestRejected: 'MarketDataRequestRejected',
  /** non-retryable: no provider registered under the requested name */
  UnknownProvider: 'UnknownMarketDataProvider',
} as const;

/** Bars (ascending) as typed-array columns, the shape the strategy and cycle code take. */
export function barsToColumns(bars: readonly Bar[]): BarColumns {
  const out = allocateBars(bars.length);
  for (const b of bars) appendBar(out, b);
  return out;
}

/** Typed-array columns back to bars. */
export function columnsToBars(cols: BarColumns): Bar[] {
  return Array.from({ length: cols.length }, (_, i) => barAt(cols, i));
}
