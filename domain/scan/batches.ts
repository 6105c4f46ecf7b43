/**
 * How a durable scan cuts its work: stages of runs (each run one backtest), each stage cut into batches of
 * consecutive runs. Plain data and arithmetic only (no imports), so workflow code can walk a plan.
 */
export const SCAN_STAGES = ['cells', 'train', 'paths', 'shocks'] as const;
/**
 * cells: the grid's cells on the whole series (run k is scan.cells[k]); train: walk-forward train runs (run k is
 * fold floor(k / cells), cell k mod cells); paths: Monte Carlo block-bootstrap paths; shocks: black-swan shocks.
 */
export type ScanStage = (typeof SCAN_STAGES)[number];

export interface StagePlan {
  stage: ScanStage;
  runs: number;
  /** runs per batch: a few seconds of one core (plan.ts sizes it from the bars a run reads) */
  batchRuns: number;
}

export interface ScanPlan {
  /** bars the scan runs on (pinned when the job was created) */
  bars: number;
  stages: StagePlan[];
  /** runs of the final step: walk-forward test runs, the base run of monte_carlo and black_swan */
  finishRuns: number;
  /** every run, counted as the in-process scan counts its progress steps */
  runsTotal: number;
  batches: number;
}

/** Runs [from, to) of a stage. */
export interface Batch {
  index: number;
  stage: ScanStage;
  from: number;
  to: number;
}

/** Batch k of the plan, stages in order; undefined past the last. */
export function batchAt(plan: ScanPlan, k: number): Batch | undefined {
  let first = 0;
  for (const s of plan.stages) {
    const count = Math.ceil(s.runs / s.batchRuns);
    if (k < first + count) {
      const from = (k - first) * s.batchRuns;
      return { index: k, stage: s.stage, from, to: Math.min(s.runs, from + s.batchRuns) };
    }
    first += count;
  }
  return undefined;
}

const NAMES: Record<ScanStage, string> = { cells: 'cells', train: 'train runs', paths: 'paths', shocks: 'shocks' };

/** "cells 400–599": what a batch runs, for the Temporal UI. */
export function batchLabel(b: Batch): string {
  return `${NAMES[b.stage]} ${b.from}–${b.to - 1}`;
}
