import * as wf from '@temporalio/workflow';

/** A feed's workflow id: one per provider and timeframe, so two never refresh the same feed. */
export const feedWorkflowId = (provider: string, timeframe: string) => `market-data-${provider}-${timeframe}`;
/** A backfill job's workflow id (recorded on its row before it starts). */
export const backfillWorkflowId = (backfillId: string) => `market-data-backfill-${backfillId}`;
/** The quality report's Schedule, and the id its runs start from. */
export const QUALITY_REPORT_SCHEDULE_ID = 'market-data-quality-report';

export interface FeedWorkflowInput {
  provider: string;
  timeframe: string;
  /** continue-as-new after this many refreshes (default 500) */
  refreshesPerRun?: number;
  /** carried across continue-as-new: the last bar close refreshed, epoch ms */
  lastClose?: number;
  refreshes?: number;
}

export interface FeedWorkflowResult {
  /** 'refused': no recorded feed (a hand-started run) or another workflow id; 'removed': its row was deleted */
  outcome: 'refused' | 'removed';
  refreshes: number;
  reason?: string;
}

export interface FeedState {
  provider: string;
  timeframe: string;
  refreshes: number;
  /** refreshes of this run whose every attempt failed (their bars were skipped; the next refresh fills the gap) */
  failures: number;
  nextClose: number | null;
  waitingOn: string;
  last: FeedRefreshView | null;
}

/** What the last refresh did (a query, and the refresh activity's result). */
export interface FeedRefreshView {
  barClose: number;
  symbols: number;
  stored: number;
  onTime: number;
  late: number;
  missing: number;
  gaps: number;
  invalid: number;
  levels: { OK: number; WARNING: number; ERROR: number };
  alerts: number;
  /** backfill jobs recorded for gaps too long to fill inline */
  backfills: string[];
}

export const feedStateQuery = wf.defineQuery<FeedState>('feedState');

export interface BackfillWorkflowInput {
  /** the id of a market_data_backfills row; everything else comes from the row */
  backfillId: string;
}

export interface BackfillProgress {
  backfillId: string;
  status: 'starting' | 'running' | 'completed' | 'failed' | 'refused';
  expected: number;
  fetched: number;
  stored: number;
  replaced: number;
  invalid: number;
  /** bars of the range looked at so far (expected counts the whole range) */
  done: number;
  /** the next chunk starts here; null when finished */
  cursorMs: number | null;
  error?: string;
}

export const backfillProgressQuery = wf.defineQuery<BackfillProgress>('backfillProgress');

export interface QualityReportWorkflowInput {
  /** the trading day (YYYY-MM-DD); default the latest day whose session has closed */
  day?: string;
}
