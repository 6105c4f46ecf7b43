import type { BackupResult } from '../../activities/backups';
import type { StaleJobsResult } from '../../activities/stale-jobs';

/** Input of staleJobsWorkflow; the activity refuses less than a minute (a job row a moment before its workflow starts). */
export interface StaleJobsInput {
  olderThanMs?: number;
}

export const DEFAULT_STALE_AFTER_MS = 10 * 60_000;

export type { StaleJobsResult };

export interface BackupWorkflowResult extends BackupResult {
  /** ids of the backups rotation deleted */
  rotated: string[];
}
