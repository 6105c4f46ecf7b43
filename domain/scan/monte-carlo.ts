/**
 * Monte Carlo over a backtest's closed round trips: each path is an equity curve initialCash + the running sum
 * of the trades' PnL, in a random order (shuffle: a permutation, so every path ends at the same equity and only
 * the drawdown varies) or drawn with replacement (bootstrap: as many draws as trades). Trade-level equity: the
 * mark-to-market inside a trade and the PnL of a position still open at the end are not in it.
 *
 * The loops keep their state in locals with the PRNG (mulberry32, as ../synthetic.ts) inlined, and allocate
 * nothing per path: bench/stress.ts holds them to a plain loop over the same arrays.
 */

export type TradeMethod = 'shuffle' | 'bootstrap';

/** Per path: final return (final equity / initial cash - 1) and max drawdown (fraction of the running peak). */
export interface PathStats {
  finalReturn: Float64Array;
  maxDrawdown: Float64Array;
}

export function allocatePaths(paths: number): PathStats {
  return { finalReturn: new Float64Array(paths), maxDrawdown: new Float64Array(paths) };
}

/** Fills out (or new arrays) with `paths` paths of the trades' PnL. The same pnl, method, paths and seed give the same arrays. */
export function tradePaths(pnl: Float64Array, initialCash: number, method: TradeMethod, paths: number, seed: number, out: PathStats = allocatePaths(paths)): PathStats {
  if (method === 'shuffle') shufflePaths(pnl, initialCash, paths, seed, out.finalReturn, out.maxDrawdown);
  else bootstrapPaths(pnl, initialCash, paths, seed, out.finalReturn, out.maxDrawdown);
  return out;
}

// One loop per method (no per-trade branch on the method); the PRNG step is mulberry32 as in ../synthetic.ts.

function shufflePaths(pnl: Float64Array, cash: number, paths: number, seed: number, fr: Float64Array, md: Float64Array): void {
  const work = new Float64Array(pnl); // shuffled in place, path after path (each shuffle of a permutation is uniform)
  let a = seed | 0;
  for (let p = 0; p < paths; p++) {
    let eq = cash;
    let peak = cash;
    let dd = 0;
    for (let i = work.length - 1; i >= 0; i--) {
      a = (a + 0x6d2b79f5) | 0;
      let z = Math.imul(a ^ (a >>> 15), 1 | a);
      z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
      // Fisher-Yates from the end: position i takes a uniform pick of [0, i] and is final
      const j = Math.floor((((z ^ (z >>> 14)) >>> 0) / 4294967296) * (i + 1));
      const x = work[j];
      work[j] = work[i];
      work[i] = x;
      eq += x;
      if (eq > peak) peak = eq;
      else if (peak - eq > dd * peak) dd = (peak - eq) / peak;
    }
    fr[p] = eq / cash - 1;
    md[p] = dd;
  }
}

function bootstrapPaths(pnl: Float64Array, cash: number, paths: number, seed: number, fr: Float64Array, md: Float64Array): void {
  const t = pnl.length;
  let a = seed | 0;
  for (let p = 0; p < paths; p++) {
    let eq = cash;
    let peak = cash;
    let dd = 0;
    for (let i = 0; i < t; i++) {
      a = (a + 0x6d2b79f5) | 0;
      let z = Math.imul(a ^ (a >>> 15), 1 | a);
      z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
      eq += pnl[Math.floor((((z ^ (z >>> 14)) >>> 0) / 4294967296) * t)];
      if (eq > peak) peak = eq;
      else if (peak - eq > dd * peak) dd = (peak - eq) / peak;
    }
    fr[p] = eq / cash - 1;
    md[p] = dd;
  }
}

/** Linear interpolation between order statistics (numpy's default): h = (n - 1) p. `sorted` ascending, n >= 1. */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface Distribution {
  p5: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

export function distribution(values: Float64Array): Distribution {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (let k = 0; k < s.length; k++) sum += s[k];
  return { p5: quantile(s, 0.05), p50: quantile(s, 0.5), p95: quantile(s, 0.95), mean: sum / s.length, min: s[0], max: s[s.length - 1] };
}

export interface PathSummary {
  paths: number;
  finalReturn: Distribution;
  maxDrawdown: Distribution;
  lossThreshold: number;
  /** share of paths whose final return is below -lossThreshold */
  probLossAbove: number;
  /** share of paths whose max drawdown is above lossThreshold */
  probDrawdownAbove: number;
}

export function summarizePaths(stats: PathStats, lossThreshold: number): PathSummary {
  const n = stats.finalReturn.length;
  let losses = 0;
  let deep = 0;
  for (let p = 0; p < n; p++) {
    if (stats.finalReturn[p] < -lossThreshold) losses++;
    if (stats.maxDrawdown[p] > lossThreshold) deep++;
  }
  return {
    paths: n,
    finalReturn: distribution(stats.finalReturn),
    maxDrawdown: distribution(stats.maxDrawdown),
    lossThreshold,
    probLossAbove: losses / n,
    probDrawdownAbove: deep / n,
  };
}
