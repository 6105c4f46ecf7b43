import { defineQuery } from '@temporalio/workflow';
import type { LiquidationReport, ReplayClock } from '../../activities/liquidation';

export type { LiquidationReport, ReplayClock };

/** The liquidation workflow takes only the id of the row the platform recorded (and everything else from that row). */
export interface LiquidationWorkflowInput {
  liquidationId: string;
}

export interface LiquidationWorkflowResult {
  status: 'flat' | 'not_flat' | 'refused';
  reason?: string;
  report?: LiquidationReport;
}

export interface LiquidationState {
  phase: 'starting' | 'waiting' | 'reduce-only' | 'cancelling' | 'closing' | 'verifying' | 'done' | 'waiting-for-open' | 'lifted' | 'refused';
  accountId: string | null;
  tradingDay: string | null;
  round: number;
  /** orders placed so far */
  orders: number;
  /** data time of the next thing the workflow waits for, epoch ms */
  nextAtMs: number | null;
  report: LiquidationReport | null;
}

export const liquidationStateQuery = defineQuery<LiquidationState>('liquidationState');

/** The scheduler (one per calendar): starts each account's liquidation at its time and writes the daily summaries. */
export interface EodSchedulerInput {
  calendar?: 'XNYS';
  /** maps workflow time to the exchange's time (a rehearsal or a test of a past day); absent: the wall clock */
  clock?: ReplayClock;
  /** how often the day's plan is read again during a session (new accounts, new eod deployments); default 10 min */
  replanMs?: number;
  /** the daily summaries are written this long after each close (fills settle); default 2 min */
  summaryDelayMs?: number;
  /** false where the server has no custom search attributes (the time-skipping test server); default: tag each liquidation */
  searchAttributes?: boolean;
  /** stop after this many sessions (tests); default: never */
  sessions?: number;
  /** carried across continue-as-new */
  carry?: { sessionsDone: number };
}

export interface EodSchedulerState {
  date: string | null;
  /** accounts whose liquidation this session has been started (or found started) */
  started: string[];
  nextAtMs: number | null;
  waitingFor: string;
  sessionsDone: number;
}

export const eodSchedulerStateQuery = defineQuery<EodSchedulerState>('eodSchedulerState');
export const EOD_SCHEDULER_WORKFLOW_ID = 'eod-scheduler';
