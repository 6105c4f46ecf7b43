import type { Queryable } from './queryable';

export const BACKFILL_MODES = ['incremental', 'full'] as const;
export type BackfillMode = (typeof BACKFILL_MODES)[number];
export type BackfillStatus = 'queued' | 'running' | 'completed' | 'failed';

/** A backfill job (market_data_backfills). */
export interface Backfill {
  id: string;
  workflowId: string;
  provider: string;
  symbol: string;
  timeframe: string;
  fromMs: number;
  toMs: number;
  mode: BackfillMode;
  status: BackfillStatus;
  requestedBy: string;
  expected: number | null;
  fetched: number;
  stored: number;
  replaced: number;
  invalid: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

interface Row {
  id: string;
  workflow_id: string;
  provider: string;
  symbol: string;
  timeframe: string;
  from_ms: number;
  to_ms: number;
  mode: BackfillMode;
  status: BackfillStatus;
  requested_by: string;
  expected: number | null;
  fetched: number;
  stored: number;
  replaced: number;
  invalid: number;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const COLUMNS = `id, workflow_id, provider, symbol, timeframe, extract(epoch from from_ts)::float8 * 1000 AS from_ms, extract(epoch from to_ts)::float8 * 1000 AS to_ms,
  mode, status, requested_by, expected, fetched, stored, replaced, invalid, error, created_at, started_at, finished_at`;

const toBackfill = (r: Row): Backfill => ({
  id: r.id,
  workflowId: r.workflow_id,
  provider: r.provider,
  symbol: r.symbol,
  timeframe: r.timeframe,
  fromMs: Number(r.from_ms),
  toMs: Number(r.to_ms),
  mode: r.mode,
  status: r.status,
  requestedBy: r.requested_by,
  expected: r.expected,
  fetched: r.fetched,
  stored: r.stored,
  replaced: r.replaced,
  invalid: r.invalid,
  error: r.error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export interface NewBackfill {
  id: string;
  workflowId: string;
  provider: string;
  symbol: string;
  timeframe: string;
  fromMs: number;
  toMs: number;
  mode: BackfillMode;
  requestedBy: string;
}

/** Records a queued job before its workflow starts; a repeated id changes nothing. */
export async function insertBackfill(db: Queryable, b: NewBackfill): Promise<void> {
  await db.query(
    `INSERT INTO market_data_backfills (id, workflow_id, provider, symbol, timeframe, from_ts, to_ts, mode, requested_by)
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6::float8 / 1000.0), to_timestamp($7::float8 / 1000.0), $8, $9) ON CONFLICT (id) DO NOTHING`,
    [b.id, b.workflowId, b.provider, b.symbol, b.timeframe, b.fromMs, b.toMs, b.mode, b.requestedBy],
  );
}

export async function getBackfill(db: Queryable, id: string): Promise<Backfill | undefined> {
  const { rows } = await db.query<Row & Record<string, unknown>>(`SELECT ${COLUMNS} FROM market_data_backfills WHERE id = $1`, [id]);
  return rows[0] && toBackfill(rows[0]);
}

export async function listBackfills(db: Queryable, filter: { symbol?: string; status?: BackfillStatus }, limit: number): Promise<Backfill[]> {
  const { rows } = await db.query<Row & Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM market_data_backfills WHERE ($1::text IS NULL OR symbol = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3`,
    [filter.symbol ?? null, filter.status ?? null, limit],
  );
  return rows.map(toBackfill);
}

/** queued -> running with the number of bars the calendar expects; a repeat (activity retry) keeps the first start. */
export async function markBackfillRunning(db: Queryable, id: string, expected: number): Promise<void> {
  await db.query(`UPDATE market_data_backfills SET status = 'running', expected = $2, started_at = coalesce(started_at, now()) WHERE id = $1 AND status IN ('queued', 'running')`, [id, expected]);
}

/** The counts so far (absolute, as the workflow holds them). */
export async function setBackfillProgress(db: Queryable, id: string, p: { fetched: number; stored: number; replaced: number; invalid: number }): Promise<void> {
  await db.query('UPDATE market_data_backfills SET fetched = $2, stored = $3, replaced = $4, invalid = $5 WHERE id = $1', [id, p.fetched, p.stored, p.replaced, p.invalid]);
}

/** The first terminal outcome wins. */
export async function finishBackfill(db: Queryable, id: string, status: 'completed' | 'failed', error: string | null): Promise<void> {
  await db.query(`UPDATE market_data_backfills SET status = $2, error = $3, finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')`, [id, status, error]);
}
