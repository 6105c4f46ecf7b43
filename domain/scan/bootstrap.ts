import { allocateBars, appendBar, barAt, type BarColumns } from '../bars';
import type { BacktestSettings } from '../backtest/types';
import { mulberry32 } from '../synthetic';
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

/**
 * `paths` block-bootstrapped series, each backtested with the settings from a flat start: final return and max
 * drawdown per path. With a fan recorder (steps: bar indexes), the first fan.paths paths also give their equity
 * at those bars.
 */
export function barPaths(bars: BarColumns, settings: BacktestSettings, blockBars: number, paths: number, seed: number, onProgress?: Progress, fan?: FanRecorder): PathStats {
  const out = allocatePaths(paths);
  const rnd = mulberry32(seed);
  const path = allocateBars(bars.length);
  for (let p = 0; p < paths; p++) {
    blockBootstrapBars(bars, blockBars, rnd, path);
    const marked = fan !== undefined && p < fan.paths;
    const { run, result } = runWindow(path, settings, undefined, { keepEquity: marked });
    out.finalReturn[p] = result.metrics.totalReturn;
    out.maxDrawdown[p] = result.metrics.maxDrawdown;
    if (marked) fan.steps.forEach((bar, s) => fan.set(p, s, run.equitySeries[bar]));
    onProgress?.(p + 1, paths);
  }
  return out;
}
