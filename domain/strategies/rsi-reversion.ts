import type { BarColumns } from '../bars';
import { rsi } from '../indicators';
import { validateStrategyParams } from '../backtest/settings';
import type { Strategy, StrategyFactory } from './types';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const NAN = Number.NaN;

/**
 * rsi-reversion: Wilder RSI(period). Flat: RSI < oversold -> long; with allowShort, RSI > overbought -> short.
 * Long: RSI > exit -> flat (or straight to short when shorts are allowed and RSI > overbought).
 * Short: RSI < exit -> flat (or straight to long when RSI < oversold).
 */
export class RsiReversionStrategy implements Strategy {
  readonly warmup: number;
  readonly rsi: Float64Array;

  constructor(
    bars: BarColumns,
    period: number,
    private readonly oversold: number,
    private readonly overbought: number,
    private readonly exit: number,
    private readonly allowShort: boolean,
  ) {
    const n = bars.length;
    this.rsi = rsi(bars.close, period, new Float64Array(n), n);
    this.warmup = period + 1;
  }

  target(i: number, position: number): number {
    const r = this.rsi[i];
    if (r !== r) return NAN; // warm-up
    if (position === 0) {
      if (r < this.oversold) return 1;
      if (this.allowShort && r > this.overbought) return -1;
      return NAN;
    }
    if (position > 0) {
      if (r > this.exit) return this.allowShort && r > this.overbought ? -1 : 0;
      return NAN;
    }
    if (r < this.exit) return r < this.oversold ? 1 : 0;
    return NAN;
  }

  indicators(i: number): Record<string, number> {
    return { rsi: this.rsi[i], oversold: this.oversold, overbought: this.overbought, exit: this.exit };
  }
}

export const createRsiReversion: StrategyFactory = (bars, params, opts) => {
  const p = validateStrategyParams('rsi-reversion', params);
  return new RsiReversionStrategy(bars, p.period, p.oversold, p.overbought, p.exit, opts.allowShort);
};
