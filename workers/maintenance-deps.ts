import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { MaintenanceDeps } from '../activities/maintenance';
import type { WorkflowInspector } from '../activities/stale-jobs';

/** Describe through the client: the latest run's status name, null when Temporal has no workflow with that id. */
export function temporalInspector(client: Client): WorkflowInspector {
  return {
    async status(workflowId) {
      try {
        return (await client.workflow.getHandle(workflowId).describe()).status.name;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
    },
  };
}

export interface MaintenanceSettings {
  DATABASE_URL: string;
  BACKUP_DIR: string;
  BACKUP_KEEP: number;
  PG_BIN_DIR?: string;
}

/** The IO worker's maintenance dependencies from its settings. */
export function maintenanceDeps(config: MaintenanceSettings, client: Client): MaintenanceDeps {
  return {
    workflows: temporalInspector(client),
    backup: { databaseUrl: config.DATABASE_URL, binDir: config.PG_BIN_DIR, dir: config.BACKUP_DIR, keep: config.BACKUP_KEEP },
  };
}
