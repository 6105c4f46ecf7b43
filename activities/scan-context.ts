import { ApplicationFailure } from '@temporalio/activity';
import { loadBarColumns, type CopySource } from '../db/sql/bars';
import type { Queryable } from '../db/sql/queryable';
import { getScanJob, type ScanJobRow } from '../db/sql/stress-scan-jobs';
import type { BarColumns } from '../domain/bars';
import type { ScanPlan } from '../domain/scan/batches';
import { prepareScan, type PreparedScan } from '../domain/scan/prepare';
import { ErrorType } from '../workflows/errors';
import type { BarCache } from './bar-cache';

/** What every activity of one scan job needs: its row, the prepared request, the plan, and where its bars are. */
export interface ScanJob {
  row: ScanJobRow;
  scan: PreparedScan;
  plan: ScanPlan;
  /** names the pinned bars exactly (see BarCache) */
  barsKey: string;
}

/** Jobs kept per process: a worker usually runs batches of one or two scans at a time. */
const JOBS_KEPT = 8;

/**
 * A worker process's view of scan jobs: each job's row is read and its request prepared once (enumerating a large
 * grid takes a moment), and its bars come from the process's BarCache, so a batch after the first costs no query
 * but the check for runs already stored.
 */
export class ScanJobs {
  private readonly jobs = new Map<string, Promise<ScanJob>>();

  constructor(
    private readonly db: Queryable & CopySource,
    private readonly cache: BarCache,
  ) {}

  job(jobId: string): Promise<ScanJob> {
    let job = this.jobs.get(jobId);
    if (!job) {
      job = this.load(jobId);
      this.jobs.set(jobId, job);
      job.catch(() => this.jobs.delete(jobId));
      if (this.jobs.size > JOBS_KEPT) this.jobs.delete(this.jobs.keys().next().value!);
    }
    return job;
  }

  /** The job's bars, loaded once per process (and checked against the pinned count when loaded). */
  async bars(job: ScanJob, onProgress: () => void): Promise<{ bars: BarColumns; loaded: boolean }> {
    const { row } = job;
    return this.cache.get(job.barsKey, async () => {
      const range = { symbol: row.symbol, timeframe: row.timeframe, from: row.first_bar_ts.toISOString(), to: row.last_bar_ts.toISOString() };
      const bars = await loadBarColumns(this.db, range, { expected: row.bars, onProgress });
      if (bars.length !== row.bars) {
        throw ApplicationFailure.nonRetryable(
          `the bars of ${row.symbol} ${row.timeframe} changed during the scan: ${row.bars} from ${range.from} to ${range.to} when it started, ${bars.length} now`,
          ErrorType.BarsChanged,
        );
      }
      return bars;
    });
  }

  private async load(jobId: string): Promise<ScanJob> {
    const row = await getScanJob(this.db, jobId);
    if (!row) throw ApplicationFailure.nonRetryable(`stress scan job ${jobId} not found`, ErrorType.JobNotFound);
    let scan: PreparedScan;
    try {
      // the API checked every cell before it stored the request
      scan = prepareScan(row.spec, { checkAllCells: false });
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`stress scan job ${jobId}: its request no longer prepares: ${(err as Error).message}`, ErrorType.InvalidInput);
    }
    const barsKey = [row.symbol, row.timeframe, row.first_bar_ts.getTime(), row.last_bar_ts.getTime(), row.bars].join('|');
    return { row, scan, plan: row.plan, barsKey };
  }
}
