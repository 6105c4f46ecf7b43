import { allocateBars, appendBar, barAt, type BarColumns } from '../bars';
import type { BacktestSettings } from '../backtest/types';
import { mulberry32At } from '../synthetic';
import type { FanRecorder } from './charts';
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
  const { ts, open, high, low, close, volume } = src;
  out.length = 0;
  if (n === 0) return;
  appendBar(out, barAt(src, 0));
  const span = n - 1; // relative bars 1..n-1
  let q = 1;
  for (let i = 1; i < n; i++) {
    if ((i - 1) % blockBars === 0) q = 1 + Math.floor(rnd() * span);
    else q = q === n - 1 ? 1 : q + 1;
    const prev = out.close[i - 1];
    const base = close[q - 1];
    appendBar(out, {
      ts: ts[i],
      open: prev * (open[q] / base),
      high: prev * (high[q] / base),
      low: prev * (low[q] / base),
      close: prev * (close[q] / base),
      volume: volume[q],
    });
  }
}

/** Random draws one bootstrapped path of n bars takes: one per block of blockBars relative bars (bars 1..n-1). */
export function drawsPerPath(n: number, blockBars: number): number {
  return n >= 2 ? Math.floor((n - 2) / blockBars) + 1 : 0;
}

/** One bootstrapped path's outcome; with fan steps (bar indexes), its equity at each of them too. */
export interface BarPath {
  finalReturn: number;
  maxDrawdown: number;
  equity?: number[];
}

/**
 * Path p of a seeded block bootstrap, backtested from a flat start. The paths share one mulberry32 stream, path p
 * starting after the draws of paths 0..p-1, so any path (or batch of paths) can be computed on its own and gives
 * what the whole run gives. `scratch` holds the path's bars (reused).
 */
export function barPath(bars: BarColumns, settings: BacktestSettings, blockBars: number, seed: number, p: number, scratch: BarColumns, steps?: readonly number[]): BarPath {
  blockBootstrapBars(bars, blockBars, mulberry32At(seed, p * drawsPerPath(bars.length, blockBars)), scratch);
  const { run, result } = runWindow(scratch, settings, undefined, { keepEquity: steps !== undefined });
  const out: BarPath = { finalReturn: result.metrics.totalReturn, maxDrawdown: result.metrics.maxDrawdown };
  if (steps) out.equity = steps.map((bar) => run.equitySeries[bar]);
  return out;
}

/**
 * `paths` block-bootstrapped series, each backtested with the settings from a flat start: final return and max
 * drawdown per path. With a fan recorder (steps: bar indexes), the first fan.paths paths also give their equity
 * at those bars.
 */
export function barPaths(bars: BarColumns, settings: BacktestSettings, blockBars: number, paths: number, seed: number, onProgress?: Progress, fan?: FanRecorder): PathStats {
  const out = allocatePaths(paths);
  const scratch = allocateBars(bars.length);
  for (let p = 0; p < paths; p++) {
    const marked = fan !== undefined && p < fan.paths;
    const r = barPath(bars, settings, blockBars, seed, p, scratch, marked ? fan.steps : undefined);
    out.finalReturn[p] = r.finalReturn;
    out.maxDrawdown[p] = r.maxDrawdown;
    if (marked) r.equity!.forEach((eq, s) => fan.set(p, s, eq));
    onProgress?.(p + 1, paths);
  }
  return out;
}
