export const STRATEGY_NAMES = ['sma-cross', 'rsi-reversion', 'donchian-breakout'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/**
 * What to do when one bar touches both the take-profit and the stop-loss.
 * direction: close >= open means open -> high -> low -> close, otherwise open -> low -> high -> close.
 * pessimistic: the stop is hit first.
 */
export const INTRABAR_POLICIES = ['direction', 'pessimistic'] as const;
export type IntrabarPolicy = (typeof INTRABAR_POLICIES)[number];

/**
 * How many shares an entry buys (or sells short), decided at the fill:
 *  - equity-fraction: floor((fraction x equity - commission per order) / (fill price x (1 + commission rate))),
 *    whole shares; equity is the cash after any position was closed at that open; no entry when it is 0;
 *  - fixed-quantity: `quantity`, whatever the equity.
 */
export type Sizing = { mode: 'equity-fraction'; fraction: number } | { mode: 'fixed-quantity'; quantity: number };
/** 95 % of equity per entry: results move with the strategy, not with the price of one share (the old 1 share on 10,000 cash was noise). */
export const DEFAULT_SIZING: Sizing = { mode: 'equity-fraction', fraction: 0.95 };

/** Every assumption of a backtest; results echo them back. */
export interface BacktestSettings {
  strategy: StrategyName;
  params: Record<string, number | boolean>;
  initialCash: number;
  sizing: Sizing;
  commissionPerOrder: number;
  /** fraction of notional, e.g. 0.0005 = 5 bp */
  commissionRate: number;
  /** adverse slippage in basis points applied to every fill price */
  slippageBps: number;
  allowShort: boolean;
  /** optional bracket on every position, as a fraction of the entry price (0.02 = 2 %) */
  takeProfitPct?: number;
  stopLossPct?: number;
  /** optional trailing stop: this fraction below the highest high since the entry (above the lowest low for a short) */
  trailingStopPct?: number;
  intrabarPolicy: IntrabarPolicy;
}

export type TradeSide = 'buy' | 'sell';
export type FillReason = 'signal' | 'take-profit' | 'stop-loss' | 'trailing-stop' | 'end';

/** One fill. */
export interface Trade {
  side: TradeSide;
  /** ISO 8601 UTC time of the bar the fill happened in */
  time: string;
  price: number;
  qty: number;
  fee: number;
  reason: FillReason;
  /** realized PnL of this fill when it closes (part of) a position, else 0 */
  realizedPnl: number;
}

export interface Metrics {
  totalReturn: number;
  cagr: number;
  sharpe: number;
  sortino: number;
  maxDrawdown: number;
  /** longest drawdown, in bars */
  maxDrawdownBars: number;
  winRate: number;
  profitFactor: number;
  expectancy: number;
  /** fraction of bars with an open position */
  exposure: number;
  /** number of round trips closed */
  trades: number;
  realizedPnl: number;
  unrealizedPnl: number;
}

export interface EquityPoint {
  ts: number;
  equity: number;
}

export interface BacktestResult {
  finalEquity: number;
  cash: number;
  /** signed quantity held at the end (short < 0) */
  position: number;
  trades: Trade[];
  metrics: Metrics;
  /** downsampled equity curve, at most `equityPoints` points, always including first and last bar */
  equityCurve: EquityPoint[];
  bars: number;
  assumptions: BacktestSettings & { fillRule: 'next-open' };
}

/** Progress callback argument. */
export interface BacktestProgress {
  barsDone: number;
  barsTotal: number;
}
