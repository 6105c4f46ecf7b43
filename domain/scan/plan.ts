import type { ScanPlan, ScanStage, StagePlan } from './batches';
import type { PreparedScan } from './prepare';
import { scanSteps } from './scan';
import { defaultShocks } from './shocks';
import { walkForwardFolds } from './walk-forward';

/** Bar evaluations per batch: about 2 s of one core at the engine's ~12M bars/s (bench/engine.ts). */
export const TARGET_BAR_EVALS = 24_000_000;
/** At most this many runs per batch: bounds a batch's insert and the work a killed worker loses on short series. */
export const MAX_RUNS_PER_BATCH = 1_000;

/** Runs per batch for runs that each read `barsPerRun` bars. */
export function runsPerBatch(barsPerRun: number): number {
  return Math.max(1, Math.min(MAX_RUNS_PER_BATCH, Math.floor(TARGET_BAR_EVALS / Math.max(1, barsPerRun))));
}

/**
 * A durable scan's plan on `bars` bars: its stages (cells, walk-forward train runs, Monte Carlo paths, black-swan
 * shocks), batch sizes, and the runs its final step makes. Refuses walk-forward windows the bars cannot hold.
 */
export function planScan(scan: PreparedScan, bars: number): ScanPlan {
  const { spec } = scan;
  const stages: StagePlan[] = [];
  const add = (stage: ScanStage, runs: number, barsPerRun: number) => {
    if (runs > 0) stages.push({ stage, runs, batchRuns: runsPerBatch(barsPerRun) });
  };
  let finishRuns = 1;
  if (spec.type === 'param_scan' || spec.type === 'optimization') {
    add('cells', scan.cells.length, bars);
    finishRuns = 0;
    if (spec.walkForward) {
      const folds = walkForwardFolds(bars, spec.walkForward).length;
      // an anchored train window grows to the whole series; a rolling one reads trainBars (plus a short warm-up)
      add('train', folds * scan.cells.length, spec.walkForward.anchored ? bars : spec.walkForward.trainBars);
      finishRuns = folds;
    }
  } else if (spec.type === 'monte_carlo') {
    if (spec.monteCarlo.methods.includes('block-bootstrap')) add('paths', spec.monteCarlo.paths, bars);
  } else {
    add('shocks', (spec.blackSwan.shocks ?? defaultShocks(bars, scan.base.slippageBps)).length, bars);
  }
  const runsTotal = stages.reduce((n, s) => n + s.runs, 0) + finishRuns;
  if (runsTotal !== scanSteps(scan, bars)) throw new Error(`plan counts ${runsTotal} runs, the scan ${scanSteps(scan, bars)}`);
  const batches = stages.reduce((n, s) => n + Math.ceil(s.runs / s.batchRuns), 0);
  return { bars, stages, finishRuns, runsTotal, batches };
}

/** A walk-forward train run: its fold, and its cell's place in scan.cells. */
export function trainRun(scan: PreparedScan, run: number): { fold: number; at: number } {
  const n = scan.cells.length;
  return { fold: Math.floor(run / n), at: run % n };
}
