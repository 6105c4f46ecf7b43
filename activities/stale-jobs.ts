import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { insertAuditOnce } from '../db/sql/audit';
import { finishBacktestJob, listUnfinishedBacktestJobs } from '../db/sql/backtest-jobs';
import { inTransaction, type Queryable } from '../db/sql/queryable';
import { finishScanJob, listUnfinishedScanJobs } from '../db/sql/stress-scan-jobs';
import { ErrorType } from '../workflows/errors';

/** What Temporal says about a workflow id: its latest run's status ('RUNNING', 'COMPLETED', …), or null when it has none. */
export interface WorkflowInspector {
  status(workflowId: string): Promise<string | null>;
}

export interface StaleJobsArgs {
  /** only jobs created longer ago than this (the API writes the row a moment before it starts the workflow) */
  olderThanMs: number;
  limit?: number;
}

/** The job tables the sweep covers: how to list unfinished rows and how to fail one (only while still unfinished). */
const JOB_KINDS = {
  backtest: {
    list: listUnfinishedBacktestJobs,
    fail: (db: Queryable, id: string, reason: string) => finishBacktestJob(db, id, 'failed', reason),
  },
  scan: {
    list: listUnfinishedScanJobs,
    fail: (db: Queryable, id: string, reason: string) => finishScanJob(db, id, 'failed', reason),
  },
} as const;

export interface StaleJob {
  kind: keyof typeof JOB_KINDS;
  jobId: string;
  workflowId: string;
  reason: string;
}

export interface StaleJobsResult {
  checked: number;
  failed: StaleJob[];
}

/**
 * Fails backtest and stress-scan job rows still queued or running whose workflow is closed or gone, with the reason. Verifies each one with
 * Temporal before it acts, and the update is conditional on the row still being unfinished, so running it by hand,
 * twice or concurrently changes only rows that are really stale, once (one audit row each).
 */
export function createStaleJobActivities({ db, workflows }: { db: Pool; workflows: WorkflowInspector }) {
  return {
    async failStaleJobs(args: StaleJobsArgs): Promise<StaleJobsResult> {
      if (!Number.isInteger(args?.olderThanMs) || args.olderThanMs < 60_000) {
        throw ApplicationFailure.nonRetryable('olderThanMs must be an integer of at least 60000', ErrorType.InvalidInput);
      }
      const limit = Math.min(args.limit ?? 500, 5_000);
      const failed: StaleJob[] = [];
      let checked = 0;
      for (const kind of Object.keys(JOB_KINDS) as StaleJob['kind'][]) {
        const { list, fail } = JOB_KINDS[kind];
        const jobs = await list(db, args.olderThanMs, limit);
        checked += jobs.length;
        for (const job of jobs) {
          Context.current().heartbeat({ kind, checked }); // a long sweep stays within maintenanceStep's heartbeat timeout
          const status = await workflows.status(job.workflow_id);
          if (status === 'RUNNING') continue;
          const reason =
            status === null
              ? `stale: workflow ${job.workflow_id} does not exist (never started, or its history expired) and the job was still ${job.status}`
              : `stale: workflow ${job.workflow_id} is ${status} but the job was still ${job.status}`;
          const done = await inTransaction(db, async (tx) => {
            if (!(await fail(tx, job.id, reason))) return false;
            await insertAuditOnce(tx, 'maintenance', 'job.failed-stale', job.id, `stale:${job.id}`, { kind, workflowId: job.workflow_id, workflowStatus: status, reason });
            return true;
          });
          if (done) failed.push({ kind, jobId: job.id, workflowId: job.workflow_id, reason });
        }
      }
      return { checked, failed };
    },
  };
}
export type StaleJobActivities = ReturnType<typeof createStaleJobActivities>;
