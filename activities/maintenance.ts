import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { ErrorType } from '../workflows/errors';
import { createBackupActivities, type BackupSettings } from './backups';
import { createStaleJobActivities, type WorkflowInspector } from './stale-jobs';

/** What the maintenance activities need beyond the IO worker's pool: Temporal (describe) and the backup settings. */
export interface MaintenanceDeps {
  workflows: WorkflowInspector;
  backup: BackupSettings;
}

const notConfigured = (): never => {
  throw ApplicationFailure.nonRetryable('maintenance is not configured on this IO worker', ErrorType.InvalidInput);
};

/** The maintenance activities; a worker built without MaintenanceDeps registers them refusing every call. */
export function createMaintenanceActivities({ db, maintenance }: { db: Pool; maintenance?: MaintenanceDeps }) {
  if (!maintenance) return { failStaleJobs: notConfigured, runBackup: notConfigured, rotateBackups: notConfigured };
  return { ...createStaleJobActivities({ db, workflows: maintenance.workflows }), ...createBackupActivities({ db, backup: maintenance.backup }) };
}
