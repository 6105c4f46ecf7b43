import { mulberry32 } from '../synthetic';
import { quantile, type PathStats, type TradeMethod } from './monte-carlo';

/**
 * What the results page draws for a Monte Carlo method, small whatever the number of paths: histograms of
 * final return and max drawdown over every path, and a fan of equity quantiles over the first FAN_MAX_PATHS
 * paths (the paths are independent draws, so the first ones are a fair sample of them all).
 */
export interface PathCharts {
  histograms: { finalReturn: Histogram; maxDrawdown: Histogram };
  fan: Fan;
}

/** Equal-width bins over [from, to]; values outside it (far outliers, see histogram) are counted in below / above. */
export interface Histogram {
  from: number;
  to: number;
  width: number;
  counts: number[];
  below: number;
  above: number;
}

/** Equity quantiles across paths at each x: trades closed so far (axis "trade") or a bar's time in epoch ms ("time"). */
export interface Fan {
  axis: 'trade' | 'time';
  /** how many paths the quantiles are over */
  paths: number;
  x: number[];
  p5: number[];
  p25: number[];
  p50: number[];
  p75: number[];
  p95: number[];
}

export const HISTOGRAM_BINS = 40;
/** intervals of a fan: at most FAN_POINTS + 1 points */
export const FAN_POINTS = 100;
export const FAN_MAX_PATHS = 5_000;
/** the fence of a histogram's range: this many interquartile ranges beyond the quartiles */
const FENCE_IQR = 3;

/**
 * A histogram of the values in `bins` equal bins. The range is [min, max], narrowed to the quartiles plus or
 * minus 3 interquartile ranges when values lie beyond (a block bootstrap can hold a path 100 times above the
 * median, which would squeeze every other path into one bin). All values equal (a shuffle's final returns):
 * one bin.
 */
export function histogram(values: ArrayLike<number>, bins = HISTOGRAM_BINS): Histogram {
  const n = values.length;
  if (n === 0) return { from: 0, to: 0, width: 0, counts: [], below: 0, above: 0 };
  const sorted = Float64Array.from(values).sort();
  const min = sorted[0];
  const max = sorted[n - 1];
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const iqr = q3 - q1;
  const from = iqr > 0 ? Math.max(min, q1 - FENCE_IQR * iqr) : min;
  const to = iqr > 0 ? Math.min(max, q3 + FENCE_IQR * iqr) : max;
  // equal up to rounding (the shuffle's final returns differ only in the order the same PnLs were summed)
  if (to - from <= 1e-12 * Math.max(1, Math.abs(from), Math.abs(to))) return { from, to, width: to - from, counts: [n], below: 0, above: 0 };
  const width = (to - from) / bins;
  const counts = new Array<number>(bins).fill(0);
  let below = 0;
  let above = 0;
  for (let k = 0; k < n; k++) {
    const v = sorted[k];
    if (v < from) below++;
    else if (v > to) above++;
    else counts[Math.min(bins - 1, Math.floor((v - from) / width))]++;
  }
  return { from, to, width, counts, below, above };
}

export const pathHistograms = (stats: PathStats): PathCharts['histograms'] => ({
  finalReturn: histogram(stats.finalReturn),
  maxDrawdown: histogram(stats.maxDrawdown),
});

/** Indexes 0..last in at most `points` near-equal steps, both ends included, ascending and distinct. */
export function fanSteps(last: number, points = FAN_POINTS): number[] {
  const k = Math.max(1, Math.min(points, last));
  const steps: number[] = [];
  for (let s = 0; s <= k; s++) {
    const i = Math.round((s * last) / k);
    if (steps.length === 0 || i > steps[steps.length - 1]) steps.push(i);
  }
  return steps;
}

/**
 * Collects each path's equity at the fan's steps (row p holds path p) and turns them into quantiles. Bounded:
 * FAN_MAX_PATHS rows of at most FAN_POINTS + 1 values.
 */
export class FanRecorder {
  readonly marks: Float64Array;
  readonly paths: number;

  constructor(
    readonly steps: readonly number[],
    paths: number,
  ) {
    this.paths = Math.min(paths, FAN_MAX_PATHS);
    this.marks = new Float64Array(this.paths * steps.length);
  }

  /** Path p's equity at step s (p < paths). */
  set(p: number, s: number, equity: number): void {
    this.marks[p * this.steps.length + s] = equity;
  }

  fan(axis: Fan['axis'], x: number[]): Fan {
    const out: Fan = { axis, paths: this.paths, x, p5: [], p25: [], p50: [], p75: [], p95: [] };
    const column = new Float64Array(this.paths);
    const width = this.steps.length;
    for (let s = 0; s < width; s++) {
      for (let p = 0; p < this.paths; p++) column[p] = this.marks[p * width + s];
      column.sort();
      out.p5.push(quantile(column, 0.05));
      out.p25.push(quantile(column, 0.25));
      out.p50.push(quantile(column, 0.5));
      out.p75.push(quantile(column, 0.75));
      out.p95.push(quantile(column, 0.95));
    }
    return out;
  }
}

/**
 * The fan of tradePaths(pnl, initialCash, method, paths, seed): the same paths, drawn again from the seed (the
 * same PRNG steps in the same order), with the equity after each step's number of trades kept. A second pass
 * rather than a branch in tradePaths' loops, which bench/stress.ts holds to a plain loop.
 */
export function tradeFan(pnl: Float64Array, initialCash: number, method: TradeMethod, paths: number, seed: number): Fan {
  const t = pnl.length;
  const steps = fanSteps(t);
  const rec = new FanRecorder(steps, paths);
  const rnd = mulberry32(seed);
  const work = new Float64Array(pnl); // the shuffle permutes in place, path after path, as tradePaths does
  for (let p = 0; p < rec.paths; p++) {
    let eq = initialCash;
    let s = 0;
    rec.set(p, s++, eq);
    for (let done = 1; done <= t; done++) {
      if (method === 'shuffle') {
        const i = t - done; // Fisher-Yates from the end: position i takes a uniform pick of [0, i]
        const j = Math.floor(rnd() * (i + 1));
        const x = work[j];
        work[j] = work[i];
        work[i] = x;
        eq += x;
      } else {
        eq += pnl[Math.floor(rnd() * t)];
      }
      if (done === steps[s]) rec.set(p, s++, eq);
    }
  }
  return rec.fan('trade', steps);
}
