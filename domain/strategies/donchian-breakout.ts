import type { BarColumns } from '../bars';
import { atr, rollingMax, rollingMin } from '../indicators';
import { validateStrategyParams } from '../backtest/settings';
import type { Strategy, StrategyFactory } from './types';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const NAN = Number.NaN;

/**
 * donchian-breakout: long when the close breaks above the highest high of the previous `entry` bars; exit a long
 * when the close falls below the lowest low of the previous `exit` bars, or intrabar at the protective stop
 * entryPrice - atrStop * ATR(atrPeriod) (ATR of the signal bar; fixed for the life of the position; the engine
 * checks it like a stop-loss with the intrabar policy). Shorts mirror it when allowed; a long whose exit bar
 * also breaks the short entry channel reverses (and vice versa). atrStop = 0 disables the stop.
 */
export class DonchianBreakoutStrategy implements Strategy {
  readonly warmup: number;
  readonly upperEntry: Float64Array;
  readonly lowerEntry: Float64Array;
  readonly upperExit: Float64Array;
  readonly lowerExit: Float64Array;
  readonly atr: Float64Array;
  private readonly close: Float64Array;

  constructor(
    bars: BarColumns,
    entry: number,
    exit: number,
    atrPeriod: number,
    private readonly atrStop: number,
    private readonly allowShort: boolean,
  ) {
    const n = bars.length;
    this.close = bars.close;
    this.upperEntry = rollingMax(bars.high, entry, new Float64Array(n), n);
    this.lowerExit = rollingMin(bars.low, exit, new Float64Array(n), n);
    if (allowShort) {
      this.lowerEntry = rollingMin(bars.low, entry, new Float64Array(n), n);
      this.upperExit = rollingMax(bars.high, exit, new Float64Array(n), n);
    } else {
      this.lowerEntry = new Float64Array(0);
      this.upperExit = new Float64Array(0);
    }
    this.atr = atr(bars.high, bars.low, bars.close, atrPeriod, new Float64Array(n), n);
    this.warmup = Math.max(entry, exit) + 1;
  }

  target(i: number, position: number): number {
    const c = this.close[i];
    if (position === 0) {
      if (c > this.upperEntry[i]) return 1;
      if (this.allowShort && c < this.lowerEntry[i]) return -1;
      return NAN;
    }
    if (position > 0) {
      if (c < this.lowerExit[i]) return this.allowShort && c < this.lowerEntry[i] ? -1 : 0;
      return NAN;
    }
    if (c > this.upperExit[i]) return c > this.upperEntry[i] ? 1 : 0;
    return NAN;
  }

  stopPrice(i: number, side: number, entryPrice: number): number {
    if (this.atrStop === 0) return NAN;
    return entryPrice - side * this.atrStop * this.atr[i]; // NaN while ATR warms up
  }

  indicators(i: number): Record<string, number> {
    const out: Record<string, number> = {
      close: this.close[i],
      upperEntry: this.upperEntry[i],
      lowerExit: this.lowerExit[i],
      atr: this.atr[i],
    };
    if (this.allowShort) {
      out.lowerEntry = this.lowerEntry[i];
      out.upperExit = this.upperExit[i];
    }
    return out;
  }
}

export const createDonchianBreakout: StrategyFactory = (bars, params, opts) => {
  const p = validateStrategyParams('donchian-breakout', params);
  return new DonchianBreakoutStrategy(bars, p.entry, p.exit, p.atrPeriod, p.atrStop, opts.allowShort);
};
