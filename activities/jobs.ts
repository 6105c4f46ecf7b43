import { ApplicationFailure } from '@temporalio/activity';
import { finishBacktestJob, markBacktestJobRunning } from '../db/sql/backtest-jobs';
import { finishScanJob, markScanJobRunning } from '../db/sql/stress-scan-jobs';
import type { ScanPlan } from '../domain/scan/batches';
import { ErrorType } from '../workflows/errors';
import type { IoDeps } from './ports';

/** Job-row bookkeeping on the IO queue. Each call is idempotent: repeating it leaves the same row. */
export function createJobActivities({ db }: Pick<IoDeps, 'db'>) {
  return {
    async markBacktestRunning(jobId: string): Promise<void> {
      if (!(await markBacktestJobRunning(db, jobId))) {
        throw ApplicationFailure.nonRetryable(`backtest job ${jobId} not found`, ErrorType.JobNotFound);
      }
    },
    /** Records the first terminal outcome; a retry after success changes nothing. */
    async finishBacktestJob(args: { jobId: string; status: 'completed' | 'failed' | 'cancelled'; error?: string }): Promise<void> {
      await finishBacktestJob(db, args.jobId, args.status, args.error);
    },
    /** Marks a stress scan running and returns its plan (stored by the API with the job). */
    async markStressScanRunning(jobId: string): Promise<ScanPlan> {
      const job = await markScanJobRunning(db, jobId);
      if (!job) throw ApplicationFailure.nonRetryable(`stress scan job ${jobId} not found`, ErrorType.JobNotFound);
      return job.plan;
    },
    /** Records that a scan failed or was cancelled (its final step completes it); the first terminal outcome stays. */
    async finishStressScanJob(args: { jobId: string; status: 'failed' | 'cancelled'; error?: string }): Promise<void> {
      await finishScanJob(db, args.jobId, args.status, args.error);
    },
  };
}
