import { finishBacktestJob, getBacktestJob, markBacktestJobRunning } from '../db/sql/backtest-jobs';
import { finishScanJob, getScanJob, markScanJobRunning } from '../db/sql/stress-scan-jobs';
import type { BacktestWorkflowInput } from '../workflows/backtest/messages';
import type { StressScanRecord } from '../workflows/stress-scan/messages';
import type { IoDeps } from './ports';
import { startGuard, UUID, type StartCheck, type StartClaim } from './start-checks';

/** Job-row bookkeeping on the IO queue. Each call is idempotent: repeating it leaves the same row. */
export function createJobActivities({ db }: Pick<IoDeps, 'db'>) {
  const { execution, refuse, claimed } = startGuard(db);
  return {
    /**
     * backtestWorkflow's first step: the job the API recorded (it names this workflow id, is queued, or running for
     * this run chain), marked running; its recorded request is what the workflow runs. Anything else is refused with
     * one `backtest.start.forged` audit row and writes nothing to the job (activities/start-checks.ts).
     */
    async startBacktestJob(args: StartClaim & { jobId: string }): Promise<StartCheck<BacktestWorkflowInput>> {
      const kind = 'backtest';
      const id = args.jobId;
      const job = UUID.test(id) ? await getBacktestJob(db, id) : undefined;
      if (!job) return refuse(kind, id, `no backtest job ${id.slice(0, 100)} was recorded`, args);
      if (job.workflow_id !== execution().workflowId) return refuse(kind, id, `backtest ${id} runs as workflow ${job.workflow_id}`, args);
      if (job.status !== 'queued' && job.status !== 'running') return refuse(kind, id, `backtest ${id} is ${job.status}`, args);
      if (!(await claimed(kind, job.id, args))) return refuse(kind, id, `backtest ${id} was started by another run`, args);
      await markBacktestJobRunning(db, job.id);
      const { symbol, timeframe, settings } = job;
      return { ok: true, record: { jobId: job.id, symbol, timeframe, settings, ...(job.from_ts ? { from: job.from_ts.toISOString() } : {}), ...(job.to_ts ? { to: job.to_ts.toISOString() } : {}) } };
    },
    /** Records the first terminal outcome; a retry after success changes nothing. */
    async finishBacktestJob(args: { jobId: string; status: 'completed' | 'failed' | 'cancelled'; error?: string }): Promise<void> {
      await finishBacktestJob(db, args.jobId, args.status, args.error);
    },
    /**
     * stressScanWorkflow, at the start of every run: the job the API recorded (it names this workflow id; queued or
     * running for a fresh chain, running for a continued one; no other run chain claimed it), marked running; its
     * recorded plan is what the run works through. Anything else is refused with one `stress-scan.start.forged`
     * audit row and writes nothing to the job.
     */
    async startStressScanJob(args: StartClaim & { jobId: string }): Promise<StartCheck<StressScanRecord>> {
      const kind = 'stress-scan';
      const id = args.jobId;
      const job = UUID.test(id) ? await getScanJob(db, id) : undefined;
      if (!job) return refuse(kind, id, `no stress scan job ${id.slice(0, 100)} was recorded`, args);
      if (job.workflow_id !== execution().workflowId) return refuse(kind, id, `stress scan ${id} runs as workflow ${job.workflow_id}`, args);
      const startable = args.continued ? job.status === 'running' : job.status === 'queued' || job.status === 'running';
      if (!startable) return refuse(kind, id, `stress scan ${id} is ${job.status}`, args);
      if (!(await claimed(kind, job.id, args))) return refuse(kind, id, `stress scan ${id} was started by another run`, args);
      await markScanJobRunning(db, job.id);
      return { ok: true, record: { jobId: job.id, plan: job.plan } };
    },
    /** Records that a scan failed or was cancelled (its final step completes it); the first terminal outcome stays. */
    async finishStressScanJob(args: { jobId: string; status: 'failed' | 'cancelled'; error?: string }): Promise<void> {
      await finishScanJob(db, args.jobId, args.status, args.error);
    },
  };
}
