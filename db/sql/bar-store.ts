import type { Queryable } from './queryable';

/** The statements of an idempotent bar import (db/bar-import.ts), one per function, all inside its transaction. */

/** Serialises imports of one series until commit, so the span read below stays true. */
export async function lockBarSeries(db: Queryable, symbol: string, timeframe: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`bars:${symbol}:${timeframe}`]);
}

/** The first and last stored bar at or after `fromMs` (one index range), or null when there is none. */
export async function storedSpanFrom(db: Queryable, symbol: string, timeframe: string, fromMs: number): Promise<{ min: number; max: number } | null> {
  const { rows } = await db.query<{ min: number | null; max: number | null }>(
    `SELECT extract(epoch from min(ts)) * 1000 AS min, extract(epoch from max(ts)) * 1000 AS max FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts >= to_timestamp($3::float8 / 1000.0)`,
    [symbol, timeframe, fromMs],
  );
  const r = rows[0];
  return r?.min == null || r.max == null ? null : { min: Number(r.min), max: Number(r.max) };
}

/** Binary COPY into bars: each row symbol, timeframe, ts, open, high, low, close, volume (db/bar-copy.ts). */
export const COPY_BARS = 'COPY bars (symbol, timeframe, ts, open, high, low, close, volume) FROM STDIN (FORMAT binary)';

/** The transaction's staging table for rows that may already be stored. */
export async function createBarStaging(db: Queryable): Promise<void> {
  await db.query('CREATE TEMP TABLE bars_staging (ts timestamptz, open float8, high float8, low float8, close float8, volume float8) ON COMMIT DROP');
}

/** Binary COPY into the staging table: each row ts, open, high, low, close, volume. */
export const COPY_BAR_STAGING = 'COPY bars_staging FROM STDIN (FORMAT binary)';

/** Moves the staged rows that are new into bars; the count moved. */
export async function insertStagedBars(db: Queryable, symbol: string, timeframe: string): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
     SELECT $1, $2, ts, open, high, low, close, volume FROM bars_staging
     ON CONFLICT (symbol, timeframe, ts) DO NOTHING`,
    [symbol, timeframe],
  );
  return rowCount ?? 0;
}
