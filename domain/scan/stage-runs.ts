import { allocateBars, type BarColumns } from '../bars';
import { resolveBlackSwan, shockRun, type ShockRun } from './black-swan';
import type { ScanStage } from './batches';
import { barPath, type BarPath } from './bootstrap';
import { FAN_MAX_PATHS } from './charts';
import { scoreOf } from './objective';
import { trainRun } from './plan';
import type { PreparedScan } from './prepare';
import { runCells, type CellResult } from './runner';
import { blockFanSteps } from './scan';
import { trainWindow, walkForwardFolds } from './walk-forward';

/** A cell's run with its score, as a batch stores it (cells and walk-forward train runs). */
export type ScoredRun = CellResult & { objective: number; eligible: boolean };

/** One run of a stage (see batches.ts): what a durable scan's batch computes and stores. */
export type StageRun =
  | { stage: 'cells'; run: number; cell: ScoredRun }
  | { stage: 'train'; run: number; fold: number; cell: ScoredRun }
  | { stage: 'paths'; run: number; path: BarPath }
  | { stage: 'shocks'; run: number; shock: ShockRun };

/**
 * The given runs of a stage, one at a time (a batch yields to its event loop between them). Each run depends only
 * on the bars, the scan and its number, so a batch computes the same whichever runs it skips or repeats.
 */
export function* stageRuns(bars: BarColumns, scan: PreparedScan, stage: ScanStage, runs: readonly number[]): Generator<StageRun> {
  const { spec } = scan;
  const score = (c: CellResult): ScoredRun => ({ ...c, ...scoreOf(c, spec.objective, scan.base.initialCash, spec.maxDrawdown) });
  if (stage === 'cells') {
    for (const run of runs) yield { stage, run, cell: score(runCells(bars, scan, [scan.cells[run]])[0]) };
  } else if (stage === 'train') {
    const wf = spec.walkForward!;
    const folds = walkForwardFolds(bars.length, wf);
    for (const run of runs) {
      const { fold, at } = trainRun(scan, run);
      yield { stage, run, fold, cell: score(runCells(bars, scan, [scan.cells[at]], undefined, trainWindow(folds[fold], wf))[0]) };
    }
  } else if (stage === 'paths') {
    const mc = spec.monteCarlo;
    const scratch = allocateBars(bars.length);
    // the first paths also keep their equity at the fan's bars, as the in-process scan's FanRecorder does
    const steps = blockFanSteps(bars);
    const fanPaths = Math.min(mc.paths, FAN_MAX_PATHS);
    for (const run of runs) yield { stage, run, path: barPath(bars, scan.base, mc.blockBars, mc.seed, run, scratch, run < fanPaths ? steps : undefined) };
  } else {
    const { shocks } = resolveBlackSwan(bars, scan.base, spec.blackSwan);
    for (const run of runs) yield { stage, run, shock: shockRun(bars, scan.base, shocks[run]) };
  }
}
