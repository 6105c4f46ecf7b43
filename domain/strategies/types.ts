import type { BarColumns } from '../bars';

/**
 * A trading strategy over columnar bars. Factories precompute indicator arrays once, so `target(i)` is a few
 * array reads with no allocation. Strategies are pure functions of the bars they were built on: the backtest
 * engine calls `target(i)` for every bar; the live runtime builds one on a window of recent bars and calls
 * `target(window.length - 1)`.
 */
export interface Strategy {
  /** bars needed before the first signal (the first index that can signal is warmup - 1) */
  readonly warmup: number;
  /**
   * Evaluated at the close of bar i (all data up to and including bar i). position: sign of the current
   * signed quantity (-1, 0, 1). Returns the desired position sign 1, 0 or -1, or NaN for "no change".
   * The caller never places a new order while one is unfilled.
   */
  target(i: number, position: number): number;
  /**
   * Optional protective stop price for a position of `side` (1 long, -1 short) entered at `entryPrice`, computed
   * from data up to and including bar i (the engine passes the signal bar, the one before the fill). NaN if none.
   */
  stopPrice?(i: number, side: number, entryPrice: number): number;
  /** indicator values at bar i for audit records, e.g. { fast: 101.2, slow: 100.7 } */
  indicators(i: number): Record<string, number>;
}

export type StrategyParams = Record<string, number | boolean>;

export interface StrategyOptions {
  allowShort: boolean;
}

export type StrategyFactory = (bars: BarColumns, params: StrategyParams, opts: StrategyOptions) => Strategy;
