import * as wf from '@temporalio/workflow';
import type { BackupActivities } from '../../activities/backups';
import type { StaleJobActivities } from '../../activities/stale-jobs';
import { maintenanceStep } from '../activity-options';
import { DEFAULT_STALE_AFTER_MS, type BackupWorkflowResult, type StaleJobsInput, type StaleJobsResult } from './messages';

const { failStaleJobs } = wf.proxyActivities<StaleJobActivities>(maintenanceStep);
const { runBackup, rotateBackups } = wf.proxyActivities<BackupActivities>(maintenanceStep);

/**
 * Fails backtest jobs still queued or running whose workflow is closed or gone (a Schedule starts it every few
 * minutes). Safe by hand: the activity asks Temporal about each job before it changes the row, and only once.
 */
export async function staleJobsWorkflow(input: StaleJobsInput = {}): Promise<StaleJobsResult> {
  const olderThanMs = Math.round(input?.olderThanMs ?? DEFAULT_STALE_AFTER_MS);
  return failStaleJobs.executeWithOptions({ ...maintenanceStep, summary: `fail jobs unfinished after ${Math.round(olderThanMs / 1000)} s whose workflow is closed or gone` }, [{ olderThanMs }]);
}

/**
 * One pg_dump keyed by this workflow's id (a retry or a second run with the same id dumps nothing), then rotation.
 * The directory, the number kept and the database come from the IO worker's settings, never from the input.
 */
export async function backupWorkflow(): Promise<BackupWorkflowResult> {
  const backupId = wf.workflowInfo().workflowId;
  const dump = await runBackup.executeWithOptions({ ...maintenanceStep, summary: `pg_dump ${backupId}` }, [{ backupId }]);
  const { deleted } = await rotateBackups.executeWithOptions({ ...maintenanceStep, summary: 'rotate: keep the newest backups' }, []);
  return { ...dump, rotated: deleted };
}
