import { defineQuery } from '@temporalio/workflow';
import type { ScanPlan, ScanStage } from '../../domain/scan/batches';

/**
 * A stress scan names its job only: the request, the pinned bars and the plan are in the job's row, which every
 * activity reads, so nothing large (and nothing a hand-started workflow could forge) travels through history. Every
 * run first checks that the API recorded the job under this workflow id (activities/jobs.ts `startStressScanJob`);
 * a run started by hand ends there with one audit row.
 */
export interface StressScanWorkflowInput {
  jobId: string;
  /** one line for the Temporal UI, e.g. "param_scan · sma-cross · ORCL 1d · 1,200 cells" (shown as the run's details) */
  label?: string;
  /** history events a run may reach before it continues as new (default 3,000; clamped to 100..8,000) */
  historyBudget?: number;
  /** batches scheduled at once (default 4; clamped to 1..32) */
  maxInFlight?: number;
  /** where the previous run left off (continue-as-new; read only by a run that continues one) */
  resume?: StressScanResume;
}

/** The job as recorded, which every run works from: its id and its plan. */
export interface StressScanRecord {
  jobId: string;
  plan: ScanPlan;
}

export interface StressScanResume {
  /** every batch before this one has finished */
  nextBatch: number;
  runsDone: number;
  /** workflow runs so far (1 = this is the second) */
  runs: number;
}

export type StressScanPhase = 'queued' | 'running' | 'finishing' | 'completed' | 'failed' | 'cancelled' | 'refused';

export interface StressScanProgress {
  phase: StressScanPhase;
  /** backtest runs finished (cells, train runs, paths, shocks, then the final step's) */
  runsDone: number;
  runsTotal: number;
  /** 0..1 */
  fraction: number;
  batchesDone: number;
  batchesTotal: number;
  batchesInFlight: number;
  /** workflow runs of this scan so far (continue-as-new keeps each run's history small) */
  workflowRuns: number;
}

/** Runs [from, to) of one stage of a job's plan. */
export interface StressScanBatchInput {
  jobId: string;
  stage: ScanStage;
  from: number;
  to: number;
}

export interface StressScanBatchResult {
  /** runs this attempt computed */
  computed: number;
  /** runs found stored already (a retry after a crash) */
  skipped: number;
  /** rows this attempt inserted */
  inserted: number;
}

/** The small result of a scan; its cells and document are in Postgres (GET /v1/stress-scans/:id). */
export interface StressScanSummary {
  runs: number;
  cells: number;
  best: { cell: number; params: Record<string, number>; objective: number | string } | null;
}

export const stressScanProgressQuery = defineQuery<StressScanProgress>('stressScanProgress');
