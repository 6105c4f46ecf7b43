import type { ScanPlan } from '../../domain/scan/batches';
import type { ScanSpec } from '../../domain/scan/spec';
import { jsonSafe } from './json';
import type { Queryable } from './queryable';

export type ScanJobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_SCAN_STATUSES: readonly ScanJobStatus[] = ['completed', 'failed', 'cancelled'];

export interface ScanJobRow {
  id: string;
  workflow_id: string;
  status: ScanJobStatus;
  type: ScanSpec['type'];
  symbol: string;
  timeframe: string;
  from_ts: Date | null;
  to_ts: Date | null;
  first_bar_ts: Date;
  last_bar_ts: Date;
  bars: number;
  spec: ScanSpec;
  params_version: string;
  plan: ScanPlan;
  runs_total: number;
  runs_done: number;
  /** the finished document without its cells; non-finite numbers as strings */
  result: Record<string, unknown> | null;
  error: string | null;
  requested_by: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface NewScanJob {
  id: string;
  workflowId: string;
  symbol: string;
  timeframe: string;
  from?: string;
  to?: string;
  /** the bars the scan runs on */
  firstBar: Date;
  lastBar: Date;
  bars: number;
  spec: ScanSpec;
  paramsVersion: string;
  plan: ScanPlan;
  requestedBy: string;
}

/** Records a queued scan before its workflow starts; a repeated id changes nothing. */
export async function insertScanJob(db: Queryable, job: NewScanJob): Promise<void> {
  await db.query(
    `INSERT INTO stress_scan_jobs (id, workflow_id, status, type, symbol, timeframe, from_ts, to_ts, first_bar_ts, last_bar_ts, bars,
       spec, params_version, plan, runs_total, requested_by)
     VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     ON CONFLICT (id) DO NOTHING`,
    [
      job.id, job.workflowId, job.spec.type, job.symbol, job.timeframe, job.from ?? null, job.to ?? null, job.firstBar, job.lastBar, job.bars,
      jsonSafe(job.spec), job.paramsVersion, JSON.stringify(job.plan), job.plan.runsTotal, job.requestedBy,
    ],
  );
}

export async function getScanJob(db: Queryable, id: string): Promise<ScanJobRow | undefined> {
  const { rows } = await db.query<ScanJobRow & Record<string, unknown>>('SELECT * FROM stress_scan_jobs WHERE id = $1', [id]);
  return rows[0];
}

/** Newest first, without the (large) result documents. */
export async function listScanJobs(db: Queryable, limit: number, offset = 0): Promise<Array<Omit<ScanJobRow, 'result'>>> {
  const { rows } = await db.query<Omit<ScanJobRow, 'result'> & Record<string, unknown>>(
    `SELECT id, workflow_id, status, type, symbol, timeframe, from_ts, to_ts, first_bar_ts, last_bar_ts, bars, spec, params_version, plan,
       runs_total, runs_done, error, requested_by, created_at, started_at, finished_at
     FROM stress_scan_jobs ORDER BY created_at DESC LIMIT $1 OFFSET $2`,
    [limit, offset],
  );
  return rows;
}

/** queued -> running (a finished job keeps its status). */
export async function markScanJobRunning(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE stress_scan_jobs SET status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, started_at = coalesce(started_at, now())
     WHERE id = $1`,
    [id],
  );
}

/** Moves a job to a terminal status once; a later call (a retry) leaves the first outcome in place. */
export async function finishScanJob(db: Queryable, id: string, status: 'completed' | 'failed' | 'cancelled', error?: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE stress_scan_jobs SET status = $2, error = $3, finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')`,
    [id, status, error ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Counts runs a batch inserted (in the batch's transaction, so the count is exact under retries). */
export async function addRunsDone(db: Queryable, id: string, runs: number): Promise<void> {
  if (runs > 0) await db.query('UPDATE stress_scan_jobs SET runs_done = runs_done + $2 WHERE id = $1', [id, runs]);
}

/**
 * Stores the finished document and completes the job in one statement (once: a retry of the final step changes
 * nothing), counting the final step's runs: the scan is readable the moment its document is.
 */
export async function completeScanJob(db: Queryable, id: string, result: object, finishRuns: number): Promise<void> {
  await db.query(
    `UPDATE stress_scan_jobs SET result = $2, runs_done = runs_done + $3, status = 'completed', error = NULL, finished_at = now()
     WHERE id = $1 AND result IS NULL AND status IN ('queued', 'running')`,
    [id, jsonSafe(result), finishRuns],
  );
}

/** Scans still queued or running that were created before `olderThanMs` ago, oldest first (the stale-job sweep). */
export async function listUnfinishedScanJobs(db: Queryable, olderThanMs: number, limit: number): Promise<Array<{ id: string; workflow_id: string; status: ScanJobStatus }>> {
  const { rows } = await db.query<{ id: string; workflow_id: string; status: ScanJobStatus }>(
    `SELECT id, workflow_id, status FROM stress_scan_jobs
     WHERE status IN ('queued', 'running') AND created_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY created_at LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows;
}
