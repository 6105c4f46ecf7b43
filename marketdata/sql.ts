/** The few `bars` queries market data needs beyond db/sql/bars.ts. Plain parameterised SQL; any Queryable. */
import type { Queryable } from '../db/sql/queryable';
import type { Bar } from './port';

const iso = (ms: number) => new Date(ms).toISOString();

const COLUMNS = '(extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume';

type BarRow = { ts: number; open: number; high: number; low: number; close: number; volume: number };

const toBar = (r: BarRow): Bar => ({ ts: Number(r.ts), open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume });

/** Bars with fromMs <= ts <= toMs, ascending, at most `limit` (the earliest). */
export async function selectBarsBetween(db: Queryable, symbol: string, timeframe: string, fromMs: number, toMs: number, limit: number): Promise<Bar[]> {
  const { rows } = await db.query<BarRow>(
    `SELECT ${COLUMNS} FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts >= $3::timestamptz AND ts <= $4::timestamptz
     ORDER BY ts LIMIT $5`,
    [symbol, timeframe, iso(fromMs), iso(toMs), limit],
  );
  return rows.map(toBar);
}

/** The latest `limit` bars with ts <= asOfMs, returned ascending. */
export async function selectLatestBars(db: Queryable, symbol: string, timeframe: string, asOfMs: number, limit: number): Promise<Bar[]> {
  const { rows } = await db.query<BarRow>(
    `SELECT ${COLUMNS} FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts <= $3::timestamptz
     ORDER BY ts DESC LIMIT $4`,
    [symbol, timeframe, iso(asOfMs), limit],
  );
  return rows.map(toBar).reverse();
}

/** The open time of the latest stored bar strictly before `beforeMs`, or null. */
export async function latestBarTsBefore(db: Queryable, symbol: string, timeframe: string, beforeMs: number): Promise<number | null> {
  const { rows } = await db.query<{ ts: number }>(
    `SELECT (extract(epoch from ts) * 1000)::float8 AS ts FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts < $3::timestamptz
     ORDER BY ts DESC LIMIT 1`,
    [symbol, timeframe, iso(beforeMs)],
  );
  return rows.length ? Number(rows[0].ts) : null;
}
