import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BacktestSettings, Metrics } from '../../domain/backtest/types';

/** What a backtest job runs on: bars are named here and loaded inside the activity, never passed through history. */
export interface BacktestWorkflowInput {
  jobId: string;
  symbol: string;
  timeframe: string;
  /** inclusive ISO 8601 bounds on the bar open time */
  from?: string;
  to?: string;
  settings: BacktestSettings;
}

/** refused: not started for a recorded job (it did nothing; see activities/start-checks.ts) */
export type BacktestPhase = 'queued' | 'running' | 'persisting' | 'completed' | 'failed' | 'cancelled' | 'refused';

export interface BacktestProgress {
  phase: BacktestPhase;
  barsDone: number;
  barsTotal: number;
  /** 0..1 */
  fraction: number;
}

/** The small summary the activity returns; trades and the equity curve stay in Postgres. */
export interface BacktestSummary {
  bars: number;
  trades: number;
  finalEquity: number;
  cash: number;
  position: number;
  metrics: Metrics;
}

export const backtestProgressQuery = defineQuery<BacktestProgress>('backtestProgress');
/** Sent by the running activity a few times per run, so the query shows live progress. */
export const backtestProgressSignal = defineSignal<[{ barsDone: number; barsTotal: number }]>('backtestProgress');
