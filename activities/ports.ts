import type { ConnectionPool } from '../db/sql/queryable';

/** Sends a signal to a running workflow (used for progress reports from long activities). */
export interface WorkflowSignaller {
  signal(workflowId: string, runId: string | undefined, signalName: string, arg: unknown): Promise<void>;
}

export interface CpuDeps {
  db: ConnectionPool;
  workflows: WorkflowSignaller;
}

export interface IoDeps {
  db: ConnectionPool;
}
