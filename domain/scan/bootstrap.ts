import { allocateBars, type BarColumns } from '../bars';
import type { BacktestSettings } from '../backtest/types';
import { mulberry32At } from '../synthetic';
import { allocatePaths, type PathStats } from './monte-carlo';
import type { Progress } from './runner';
import { runWindow } from './window';

/**
 * A circular block bootstrap of bars: bar 0 is the original's; every later bar is an original bar i (i >= 1)
 * expressed relative to its previous close (open, high, low and close over close[i - 1]) and re-anchored on the
 * new path's previous close. Blocks of `blockBars` consecutive original bars (wrapping from the last bar back to
 * bar 1) keep short-range structure such as volatility clusters. Times and the bar count are the original's.
 */
export function blockBootstrapBars(src: BarColumns, blockBars: number, rnd: () => number, out: BarColumns): void {
  const n = src.length;
  const { open, high, low, close, volume } = src;
  out.length = n;
  out.ts.set(src.ts.subarray(0, n));
  if (n === 0) return;
  out.open[0] = open[0];
  out.high[0] = high[0];
  out.low[0] = low[0];
  out.close[0] = close[0];
  out.volume[0] = volume[0];
  const span = n - 1; // relative bars 1..n-1
  let q = 1;
  for (let i = 1; i < n; i++) {
    if ((i - 1) % blockBars === 0) q = 1 + Math.floor(rnd() * span);
    else q = q === n - 1 ? 1 : q + 1;
    const prev = out.close[i - 1];
    const base = close[q - 1];
    out.open[i] = prev * (open[q] / base);
    out.high[i] = prev * (high[q] / base);
    out.low[i] = prev * (low[q] / base);
    out.close[i] = prev * (close[q] / base);
    out.volume[i] = volume[q];
  }
}

/** Random draws one bootstrapped path of n bars takes: one per block of blockBars relative bars (bars 1..n-1). */
export function drawsPerPath(n: number, blockBars: number): number {
  return n >= 2 ? Math.floor((n - 2) / blockBars) + 1 : 0;
}

/**
 * Path p of a seeded block bootstrap, backtested from a flat start: its final return and max drawdown. The paths
 * share one mulberry32 stream, path p starting after the draws of paths 0..p-1, so any path (or batch of paths)
 * can be computed on its own and gives what the whole run gives. `scratch` holds the path's bars (reused).
 */
export function barPath(bars: BarColumns, settings: BacktestSettings, blockBars: number, seed: number, p: number, scratch: BarColumns): { finalReturn: number; maxDrawdown: number } {
  blockBootstrapBars(bars, blockBars, mulberry32At(seed, p * drawsPerPath(bars.length, blockBars)), scratch);
  const { metrics } = runWindow(scratch, settings).result;
  return { finalReturn: metrics.totalReturn, maxDrawdown: metrics.maxDrawdown };
}

/** `paths` block-bootstrapped series, each backtested with the settings from a flat start: final return and max drawdown per path. */
export function barPaths(bars: BarColumns, settings: BacktestSettings, blockBars: number, paths: number, seed: number, onProgress?: Progress): PathStats {
  const out = allocatePaths(paths);
  const scratch = allocateBars(bars.length);
  for (let p = 0; p < paths; p++) {
    const r = barPath(bars, settings, blockBars, seed, p, scratch);
    out.finalReturn[p] = r.finalReturn;
    out.maxDrawdown[p] = r.maxDrawdown;
    onProgress?.(p + 1, paths);
  }
  return out;
}
