import type { BarColumns } from '../bars';
import { validateStrategyParams } from '../backtest/settings';
import { exactSum, ExactSum } from '../exact-sum';
import type { Strategy, StrategyFactory } from './types';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const NAN = Number.NaN;
const { abs } = Math;

/**
 * sma-cross (DESIGN.md): `{ period }` crosses the close over its SMA(period); `{ fast, slow }` crosses SMA(fast)
 * over SMA(slow). Crossovers follow the rule of ../crossover.ts (last non-zero difference before the bar < 0 and
 * the difference now > 0 is an up-cross; down mirrors it).
 * Long-only by default: flat + up-cross -> long; long + down-cross -> flat. With allowShort a down-cross goes
 * short (from flat or long) and an up-cross goes long (from flat or short).
 *
 * The factory keeps both window sums as running sums and the crossover in one pass, taking the sign of
 * SMA(fast) - SMA(slow) as the sign of sf * slow - ss * fast (no divisions), and keeps only the crossover column
 * (1 B/bar); `indicators(i)` recomputes the two averages at bar i on demand (audit records are rare).
 *
 * Exact at ties: the decision must be that of exact window arithmetic, fl(fsum(fast window) / fast) -
 * fl(fsum(slow window) / slow) (../indicators.ts sma), whatever the length of the series or the bar it starts
 * at. The running sums are re-based every REBASE bars, so they stay within ~1e-11 (relative) of the exact sums;
 * a difference larger than NEAR_TIE of the sums' scale therefore has the exact sign, and only the rare bars
 * closer to a tie than that (a close that equals its average, in whole ticks) are decided with exact sums.
 */
export class SmaCrossStrategy implements Strategy {
  readonly warmup: number;
  /** 1 (up-cross), -1 (down-cross) or 0 per bar */
  readonly cross: Int8Array;
  /** how many bars were close enough to a tie to be decided with exact sums (for tests and audits) */
  readonly exactDecisions: number;
  private readonly downTarget: number;

  /** fast = 1 means "the close itself" (the `{ period }` form) */
  constructor(
    private readonly bars: BarColumns,
    readonly fast: number,
    readonly slow: number,
    allowShort: boolean,
  ) {
    const n = bars.length;
    const cross = new Int8Array(n);
    const exact = new TieBreaker(bars.close, fast, slow);
    crossColumn(bars.close, n, fast, slow, cross, exact);
    this.cross = cross;
    this.exactDecisions = exact.count;
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

/** bars between re-basings of the running sums (drift stays below ~(2 * REBASE + slow) ulps of the sums) */
const REBASE = 4096;
/** relative distance from a tie under which the exact sums decide (far above the running sums' drift) */
const NEAR_TIE = 1e-10;

/** Fills cross[slow..n) block by block; each block re-bases the running sums on exact ones. */
function crossColumn(c: Float64Array, n: number, fast: number, slow: number, cross: Int8Array, exact: TieBreaker): void {
  if (slow > n) return;
  // state between calls of scanBlock: running sums and the sign of the last non-zero difference
  const st = new Float64Array(3);
  // bar slow - 1: the first difference, never a cross
  const sf = exactSum(c, slow - fast, slow);
  const ss = exactSum(c, 0, slow);
  let d = sf * slow - ss * fast;
  if (nearTie(d, sf, ss, fast, slow)) d = exact.diff(slow - 1);
  st[2] = d > 0 ? 1 : d < 0 ? -1 : 0;
  // blocks grow from 64 bars to REBASE: the first calls reach the end of scanBlock (collecting V8's type
  // feedback there) before its loop is hot, so V8 never settles on an on-stack-replaced loop that deoptimizes
  // on every exit
  for (let from = slow, size = 64; from < n; from += size, size = size < REBASE ? size * 2 : REBASE) {
    const to = from + size < n ? from + size : n;
    st[0] = exactSum(c, from - fast, from);
    st[1] = exactSum(c, from - slow, from);
    let i = from;
    while ((i = scanBlock(c, i, to, fast, slow, st, cross)) < to) {
      // bar i is (near) a tie: decided by exact window sums
      const e = exact.diff(i);
      const last = st[2];
      if (e > 0) {
        if (last < 0) cross[i] = 1;
        st[2] = 1;
      } else if (e < 0) {
        if (last > 0) cross[i] = -1;
        st[2] = -1;
      }
      i++;
    }
  }
}

function nearTie(d: number, sf: number, ss: number, fast: number, slow: number): boolean {
  const tol = (abs(sf) * slow + abs(ss) * fast) * NEAR_TIE;
  return !(d > tol || d < -tol);
}

/**
 * Crossovers of bars [from, to) from the running sums in st, up to the first near-tie bar; returns its index
 * (or `to`). The exact path stays out of this loop: a call whose result fed `d` made V8 box `d` on every bar.
 */
function scanBlock(c: Float64Array, from: number, to: number, fast: number, slow: number, st: Float64Array, cross: Int8Array): number {
  let sf = st[0];
  let ss = st[1];
  let last = st[2];
  let i = from;
  for (; i < to; i++) {
    const px = c[i];
    sf += px - c[i - fast];
    ss += px - c[i - slow];
    const d = sf * slow - ss * fast;
    const tol = (abs(sf) * slow + abs(ss) * fast) * NEAR_TIE;
    if (d > tol) {
      if (last < 0) cross[i] = 1;
      last = 1;
    } else if (d < -tol) {
      if (last > 0) cross[i] = -1;
      last = -1;
    } else break;
  }
  st[0] = sf;
  st[1] = ss;
  st[2] = last;
  return i;
}

/**
 * Exact SMA(fast) - SMA(slow) at bar i: fsum of each window / its period, each rounded once. Consecutive near-tie
 * bars (a flat stretch) slide the exact sums along in O(1) instead of re-summing the windows.
 */
class TieBreaker {
  count = 0;
  private readonly f = new ExactSum();
  private readonly s = new ExactSum();
  private at = -2;

  constructor(
    private readonly c: Float64Array,
    private readonly fast: number,
    private readonly slow: number,
  ) {}

  diff(i: number): number {
    const { c, f, s, fast, slow } = this;
    if (this.at === i - 1) {
      f.add(c[i]);
      f.add(-c[i - fast]);
      s.add(c[i]);
      s.add(-c[i - slow]);
    } else {
      f.reset();
      s.reset();
      for (let k = i - fast + 1; k <= i; k++) f.add(c[k]);
      for (let k = i - slow + 1; k <= i; k++) s.add(c[k]);
    }
    this.at = i;
    this.count++;
    return f.value() / fast - s.value() / slow;
  }
}

function windowMean(src: Float64Array, i: number, period: number): number {
  if (i < period - 1) return NAN;
  return exactSum(src, i - period + 1, i + 1) / period;
}

export const createSmaCross: StrategyFactory = (bars, params, opts) => {
  const p = validateStrategyParams('sma-cross', params);
  return 'period' in p
    ? new SmaCrossStrategy(bars, 1, p.period, opts.allowShort)
    : new SmaCrossStrategy(bars, p.fast, p.slow, opts.allowShort);
};
