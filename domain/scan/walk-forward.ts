import type { BarColumns } from '../bars';
import { downsampleEquity } from '../backtest/metrics';
import type { EquityPoint, Metrics } from '../backtest/types';
import { specError } from './errors';
import { best, objectiveValue } from './objective';
import { cellSettings, type PreparedScan } from './prepare';
import { runCells, type CellResult, type Progress } from './runner';
import { cellParams } from './space';
import type { WalkForwardSpec } from './spec';
import { paramStability, type ParamStability } from './stability';
import { runWindow, type BarWindow } from './window';

/** Half-open bar ranges of one fold. */
export interface FoldBounds {
  fold: number;
  trainFrom: number;
  trainTo: number;
  testFrom: number;
  testTo: number;
}

/**
 * Folds over n bars: fold k trains on [k*step, k*step + train) (anchored: [0, k*step + train)) and tests on the
 * next testBars bars; only whole test windows count (a partial last window is dropped). step defaults to
 * testBars. Refuses a train window longer than the data, and data that holds no whole test window.
 */
export function walkForwardFolds(n: number, wf: WalkForwardSpec): FoldBounds[] {
  const { trainBars: train, testBars: test, anchored } = wf;
  const step = wf.stepBars ?? test;
  if (train > n) throw specError(['walkForward', 'trainBars'], `the train window (${train} bars) is longer than the data (${n} bars)`);
  if (train + test > n) throw specError(['walkForward', 'testBars'], `trainBars + testBars = ${train + test} bars, but the data has ${n}: no whole test window fits`);
  const folds: FoldBounds[] = [];
  for (let k = 0; k * step + train + test <= n; k++) {
    const trainTo = k * step + train;
    folds.push({ fold: k, trainFrom: anchored ? 0 : k * step, trainTo, testFrom: trainTo, testTo: trainTo + test });
  }
  return folds;
}

export interface WindowSummary {
  finalEquity: number;
  cash: number;
  position: number;
  trades: number;
  totalReturn: number;
  /** CAGR over the window's first..last bar */
  annualisedReturn: number;
  objective: number;
  metrics: Metrics;
}

export interface FoldReport {
  fold: number;
  cell: number;
  params: Record<string, number>;
  /** first and last bar of each window (inclusive), ISO 8601 */
  trainFrom: string;
  trainTo: string;
  testFrom: string;
  testTo: string;
  /** the same as half-open bar indexes into the scan's bars */
  bars: FoldBounds;
  inSample: WindowSummary;
  outOfSample: WindowSummary;
}

export interface WalkForwardSummary {
  folds: number;
  /** mean over folds of the in-sample and out-of-sample annualised returns */
  inSampleAnnualisedReturn: number;
  outOfSampleAnnualisedReturn: number;
  /** outOfSampleAnnualisedReturn / inSampleAnnualisedReturn; null when the in-sample mean is <= 0 */
  efficiency: number | null;
  /** out-of-sample runs chained: each fold's PnL from the previous fold's end (overlapping test windows: each bar once, from the latest fold) */
  stitched: { finalEquity: number; totalReturn: number; annualisedReturn: number; equity: EquityPoint[] };
  paramStability: ParamStability;
}

const YEAR_MS = 365.25 * 86_400_000;
const iso = (ts: number) => new Date(ts).toISOString();

/** The train window of a fold as runCells takes it (warm-up bars before it for indicators only). */
export function trainWindow(b: FoldBounds, wf: WalkForwardSpec): BarWindow {
  return { from: b.trainFrom, to: b.trainTo, warmupBars: wf.warmupBars };
}

/** Runs every fold: all of scan.cells on the train window, the best of them on the test window. */
export function runWalkForward(bars: BarColumns, scan: PreparedScan, onProgress?: Progress): { folds: FoldReport[]; summary: WalkForwardSummary } {
  const wf = scan.spec.walkForward!;
  const bounds = walkForwardFolds(bars.length, wf);
  const { objective, maxDrawdown } = scan.spec;
  const cells = scan.cells.length;
  const total = bounds.length * (cells + 1);
  const picks = bounds.map((b) => {
    const train = runCells(bars, scan, scan.cells, (k) => onProgress?.(b.fold * cells + k, total), trainWindow(b, wf));
    return best(train, objective, scan.base.initialCash, maxDrawdown)!.item;
  });
  return walkForwardFromPicks(bars, scan, picks, (k) => onProgress?.(bounds.length * cells + k, total));
}

/**
 * The out-of-sample half of walk-forward, given each fold's pick (the best cell of its train window, with its
 * train run): runs each pick on its test window, chains the test runs and summarizes. A durable scan stores the
 * train runs and picks the best of each fold in SQL, then calls this.
 */
export function walkForwardFromPicks(bars: BarColumns, scan: PreparedScan, picks: readonly CellResult[], onProgress?: Progress): { folds: FoldReport[]; summary: WalkForwardSummary } {
  const wf = scan.spec.walkForward!;
  const bounds = walkForwardFolds(bars.length, wf);
  const { objective } = scan.spec;
  const cash = scan.base.initialCash;
  const folds: FoldReport[] = [];
  const stitchedEq = new Float64Array(bars.length);
  const stitchedTs = new Float64Array(bars.length);
  let m = 0;
  let level = cash;
  for (const b of bounds) {
    const pick = picks[b.fold];
    const settings = cellSettings(scan, pick.cell);
    const test = runWindow(bars, settings, { from: b.testFrom, to: b.testTo, warmupBars: wf.warmupBars }, { keepEquity: true });
    onProgress?.(b.fold + 1, bounds.length);
    // this fold's out-of-sample bars, up to where the next fold's test window starts
    const next = bounds[b.fold + 1];
    const segEnd = next && next.testFrom < b.testTo ? next.testFrom : b.testTo;
    const eq = test.run.equitySeries;
    for (let i = b.testFrom; i < segEnd; i++) {
      stitchedTs[m] = bars.ts[i];
      stitchedEq[m++] = level + eq[i - b.testFrom] - cash;
    }
    level = stitchedEq[m - 1];
    const summary = (r: { finalEquity: number; cash: number; position: number; metrics: Metrics }, trades: number): WindowSummary => ({
      finalEquity: r.finalEquity,
      cash: r.cash,
      position: r.position,
      trades,
      totalReturn: r.metrics.totalReturn,
      annualisedReturn: r.metrics.cagr,
      objective: objectiveValue(objective, r, cash),
      metrics: r.metrics,
    });
    folds.push({
      fold: b.fold,
      cell: pick.cell,
      params: cellParams(scan.space, pick.cell),
      trainFrom: iso(bars.ts[b.trainFrom]),
      trainTo: iso(bars.ts[b.trainTo - 1]),
      testFrom: iso(bars.ts[b.testFrom]),
      testTo: iso(bars.ts[b.testTo - 1]),
      bars: b,
      inSample: summary(pick, pick.trades),
      outOfSample: summary(test.result, test.run.fillCount),
    });
  }
  return { folds, summary: summarize(folds, scan, stitchedTs.subarray(0, m), stitchedEq.subarray(0, m)) };
}

function summarize(folds: FoldReport[], scan: PreparedScan, ts: Float64Array, eq: Float64Array): WalkForwardSummary {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const is = mean(folds.map((f) => f.inSample.annualisedReturn));
  const oos = mean(folds.map((f) => f.outOfSample.annualisedReturn));
  const cash = scan.base.initialCash;
  const n = eq.length;
  const finalEquity = eq[n - 1];
  const years = (ts[n - 1] - ts[0]) / YEAR_MS;
  return {
    folds: folds.length,
    inSampleAnnualisedReturn: is,
    outOfSampleAnnualisedReturn: oos,
    efficiency: is > 0 ? oos / is : null,
    stitched: {
      finalEquity,
      totalReturn: finalEquity / cash - 1,
      annualisedReturn: finalEquity <= 0 ? -1 : years > 0 ? Math.pow(finalEquity / cash, 1 / years) - 1 : 0,
      equity: downsampleEquity(ts, eq, n, 500),
    },
    paramStability: paramStability(scan.space.axes, folds.map((f) => f.params)),
  };
}
