import type { BacktestSettings } from '../../domain/backtest/types';
import type { Queryable } from './queryable';

export type BacktestJobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const TERMINAL_JOB_STATUSES: readonly BacktestJobStatus[] = ['completed', 'failed', 'cancelled'];

export interface BacktestJobRow {
  id: string;
  workflow_id: string;
  status: BacktestJobStatus;
  symbol: string;
  timeframe: string;
  from_ts: Date | null;
  to_ts: Date | null;
  settings: BacktestSettings;
  requested_by: string;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface NewBacktestJob {
  id: string;
  workflowId: string;
  symbol: string;
  timeframe: string;
  from?: string;
  to?: string;
  settings: BacktestSettings;
  requestedBy: string;
}

/** Records a queued job before its workflow starts; a repeated id changes nothing. */
export async function insertBacktestJob(db: Queryable, job: NewBacktestJob): Promise<void> {
  await db.query(
    `INSERT INTO backtest_jobs (id, workflow_id, status, symbol, timeframe, from_ts, to_ts, settings, requested_by)
     VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO NOTHING`,
    [job.id, job.workflowId, job.symbol, job.timeframe, job.from ?? null, job.to ?? null, JSON.stringify(job.settings), job.requestedBy],
  );
}

export async function getBacktestJob(db: Queryable, id: string): Promise<BacktestJobRow | undefined> {
  const { rows } = await db.query<BacktestJobRow & Record<string, unknown>>('SELECT * FROM backtest_jobs WHERE id = $1', [id]);
  return rows[0];
}

export async function listBacktestJobs(db: Queryable, limit: number, offset = 0): Promise<BacktestJobRow[]> {
  const { rows } = await db.query<BacktestJobRow & Record<string, unknown>>(
    'SELECT * FROM backtest_jobs ORDER BY created_at DESC LIMIT $1 OFFSET $2',
    [limit, offset],
  );
  return rows;
}

/** queued -> running; returns false when the job does not exist. Repeating it is harmless. */
export async function markBacktestJobRunning(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE backtest_jobs SET status = 'running', started_at = coalesce(started_at, now())
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [id],
  );
  if (rowCount) return true;
  const { rows } = await db.query('SELECT 1 FROM backtest_jobs WHERE id = $1', [id]);
  return rows.length > 0;
}

/** Moves a job to a terminal status once; a later call (a retry) leaves the first outcome in place. */
export async function finishBacktestJob(
  db: Queryable,
  id: string,
  status: 'completed' | 'failed' | 'cancelled',
  error?: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE backtest_jobs SET status = $2, error = $3, finished_at = now()
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [id, status, error ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Jobs still queued or running that were created before `olderThanMs` ago, oldest first (the stale-job sweep). */
export async function listUnfinishedBacktestJobs(db: Queryable, olderThanMs: number, limit: number): Promise<Pick<BacktestJobRow, 'id' | 'workflow_id' | 'status'>[]> {
  const { rows } = await db.query<Pick<BacktestJobRow, 'id' | 'workflow_id' | 'status'> & Record<string, unknown>>(
    `SELECT id, workflow_id, status FROM backtest_jobs
     WHERE status IN ('queued', 'running') AND created_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY created_at LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows;
}

/** failed -> queued for a retry of its workflow (the dead-letter view); false when the job is not failed. */
export async function reopenFailedBacktestJob(db: Queryable, workflowId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE backtest_jobs SET status = 'queued', error = NULL, finished_at = NULL WHERE workflow_id = $1 AND status = 'failed'`,
    [workflowId],
  );
  return (rowCount ?? 0) > 0;
}
