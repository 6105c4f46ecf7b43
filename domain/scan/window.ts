import { allocateBars, sliceBars, type BarColumns } from '../bars';
import { BacktestRun } from '../backtest/engine';
import type { BacktestResult, BacktestSettings } from '../backtest/types';
import { createStrategy, type Strategy } from '../strategies';

/** Bars [from, to) to trade, reading up to warmupBars bars before `from` for indicators only. */
export interface BarWindow {
  from: number;
  to: number;
  /** default: the strategy's warm-up for the run's params */
  warmupBars?: number;
}

/** The strategy's own warm-up for these settings (bars before its first possible signal). */
export function strategyWarmup(settings: BacktestSettings): number {
  return createStrategy(settings.strategy, allocateBars(0), settings.params, { allowShort: settings.allowShort }).warmup;
}

/**
 * A strategy built on bars [from - w, to) seen from the window [from, to): its indicators have read the w bars
 * before the window, and the engine, which only gets the window, can neither trade nor mark equity on them.
 */
class OffsetStrategy implements Strategy {
  readonly warmup: number;
  readonly stopPrice?: (i: number, side: number, entryPrice: number) => number;

  constructor(
    private readonly inner: Strategy,
    private readonly offset: number,
  ) {
    this.warmup = Math.max(0, inner.warmup - offset);
    if (inner.stopPrice) {
      const stop = inner.stopPrice.bind(inner);
      this.stopPrice = (i, side, entry) => stop(i + offset, side, entry);
    }
  }

  target(i: number, position: number): number {
    return this.inner.target(i + this.offset, position);
  }

  indicators(i: number): Record<string, number> {
    return this.inner.indicators(i + this.offset);
  }
}

export interface WindowRun {
  run: BacktestRun;
  result: BacktestResult;
}

/**
 * One backtest on a window of the bars: starts flat with the initial cash at window.from; every metric, fill and
 * equity point is of the window alone. With no window, the whole series.
 */
export function runWindow(bars: BarColumns, settings: BacktestSettings, window?: BarWindow, opts: { keepEquity?: boolean; equityPoints?: number } = {}): WindowRun {
  let tradeBars = bars;
  let strategy: Strategy | undefined;
  if (window) {
    const w = Math.min(window.warmupBars ?? strategyWarmup(settings), window.from);
    tradeBars = sliceBars(bars, window.from, window.to);
    const inner = createStrategy(settings.strategy, sliceBars(bars, window.from - w, window.to), settings.params, { allowShort: settings.allowShort });
    strategy = w > 0 ? new OffsetStrategy(inner, w) : inner;
  }
  const run = new BacktestRun(tradeBars, settings, { strategy, keepEquity: opts.keepEquity, equityPoints: opts.equityPoints });
  run.runUntil(tradeBars.length);
  return { run, result: run.finish() };
}
