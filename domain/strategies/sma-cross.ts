import type { BarColumns } from '../bars';
import { validateStrategyParams } from '../backtest/settings';
import type { Strategy, StrategyFactory } from './types';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const NAN = Number.NaN;

/**
 * sma-cross (DESIGN.md): `{ period }` crosses the close over its SMA(period); `{ fast, slow }` crosses SMA(fast)
 * over SMA(slow). Crossovers follow the rule of ../crossover.ts (last non-zero difference before the bar < 0 and
 * the difference now > 0 is an up-cross; down mirrors it).
 * Long-only by default: flat + up-cross -> long; long + down-cross -> flat. With allowShort a down-cross goes
 * short (from flat or long) and an up-cross goes long (from flat or short).
 *
 * The factory computes both SMAs as running sums and the crossover in one pass, comparing sf * slow with
 * ss * fast (the sign of SMA(fast) - SMA(slow) without divisions), and keeps only the crossover column (1 B/bar);
 * `indicators(i)` recomputes the two averages at bar i on demand (audit records are rare).
 */
export class SmaCrossStrategy implements Strategy {
  readonly warmup: number;
  /** 1 (up-cross), -1 (down-cross) or 0 per bar */
  readonly cross: Int8Array;
  private readonly downTarget: number;

  /** fast = 1 means "the close itself" (the `{ period }` form) */
  constructor(
    private readonly bars: BarColumns,
    readonly fast: number,
    readonly slow: number,
    allowShort: boolean,
  ) {
    const n = bars.length;
    const c = bars.close;
    const cross = new Int8Array(n);
    // running sums; sign(sf / fast - ss / slow) is taken as sign(sf * slow - ss * fast): no divisions
    let sf = 0;
    let ss = 0;
    const warm = slow < n ? slow : n;
    for (let i = 0; i < warm; i++) {
      ss += c[i];
      if (i >= slow - fast) sf += c[i];
    }
    let last = 0;
    if (warm === slow && slow > 0) {
      const d = sf * slow - ss * fast; // bar slow - 1: the first difference, never a cross
      last = d > 0 ? 1 : d < 0 ? -1 : 0;
    }
    for (let i = slow; i < n; i++) {
      const px = c[i];
      sf += px - c[i - fast];
      ss += px - c[i - slow];
      const d = sf * slow - ss * fast;
      if (d > 0) {
        if (last < 0) cross[i] = 1;
        last = 1;
      } else if (d < 0) {
        if (last > 0) cross[i] = -1;
        last = -1;
      }
    }
    this.cross = cross;
    // slow bars fill the slow SMA, one more gives the previous difference a cross needs
    this.warmup = slow + 1;
    this.downTarget = allowShort ? -1 : 0;
  }

  target(i: number, _position: number): number {
    const c = this.cross[i];
    return c === 0 ? NAN : c > 0 ? 1 : this.downTarget;
  }

  indicators(i: number): Record<string, number> {
    const fastValue = windowMean(this.bars.close, i, this.fast);
    const slowValue = windowMean(this.bars.close, i, this.slow);
    return this.fast === 1
      ? { close: fastValue, sma: slowValue, cross: this.cross[i] }
      : { fast: fastValue, slow: slowValue, cross: this.cross[i] };
  }
}

function windowMean(src: Float64Array, i: number, period: number): number {
  if (i < period - 1) return NAN;
  let sum = 0;
  for (let k = i - period + 1; k <= i; k++) sum += src[k];
  return sum / period;
}

export const createSmaCross: StrategyFactory = (bars, params, opts) => {
  const p = validateStrategyParams('sma-cross', params);
  return 'period' in p
    ? new SmaCrossStrategy(bars, 1, p.period, opts.allowShort)
    : new SmaCrossStrategy(bars, p.fast, p.slow, opts.allowShort);
};
