import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BarColumns } from '../domain/bars';

export interface BarImportCounts {
  /** rows handed to Postgres */
  accepted: number;
  /** rows that were new */
  inserted: number;
  /** rows already present for (symbol, timeframe, ts) and left unchanged */
  duplicates: number;
}

const COPY_BATCH = 20_000;

/** COPY text lines for rows [from, to) straight into `bars`. */
function* barLines(symbol: string, timeframe: string, bars: BarColumns, from: number, to: number): Generator<string> {
  const prefix = `${symbol}\t${timeframe}\t`;
  for (let start = from; start < to; start += COPY_BATCH) {
    const end = Math.min(start + COPY_BATCH, to);
    let chunk = '';
    for (let i = start; i < end; i++) {
      chunk += `${prefix}${new Date(bars.ts[i]).toISOString()}\t${bars.open[i]}\t${bars.high[i]}\t${bars.low[i]}\t${bars.close[i]}\t${bars.volume[i]}\n`;
    }
    yield chunk;
  }
}

/** COPY text lines for rows [from, to) into the staging table (epoch ms, converted in SQL). */
function* stagingLines(bars: BarColumns, from: number, to: number): Generator<string> {
  for (let start = from; start < to; start += COPY_BATCH) {
    const end = Math.min(start + COPY_BATCH, to);
    let chunk = '';
    for (let i = start; i < end; i++) {
      chunk += `${bars.ts[i]}\t${bars.open[i]}\t${bars.high[i]}\t${bars.low[i]}\t${bars.close[i]}\t${bars.volume[i]}\n`;
    }
    yield chunk;
  }
}

/** First index in the (ascending) ts column whose value is >= ms. */
function lowerBound(bars: BarColumns, ms: number): number {
  let lo = 0;
  let hi = bars.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bars.ts[mid] < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Serialises imports of one series, so the overlap check below stays true until commit. */
async function lockSeries(client: PoolClient, symbol: string, timeframe: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`bars:${symbol}:${timeframe}`]);
}

/** The span of stored bars that falls inside [fromMs, toMs], or null when none does. */
async function storedSpan(client: PoolClient, symbol: string, timeframe: string, fromMs: number, toMs: number): Promise<{ min: number; max: number } | null> {
  const { rows } = await client.query<{ min: number | null; max: number | null }>(
    `SELECT extract(epoch from min(ts)) * 1000 AS min, extract(epoch from max(ts)) * 1000 AS max FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts BETWEEN to_timestamp($3::float8 / 1000.0) AND to_timestamp($4::float8 / 1000.0)`,
    [symbol, timeframe, fromMs, toMs],
  );
  const r = rows[0];
  return r?.min == null || r.max == null ? null : { min: Number(r.min), max: Number(r.max) };
}

async function copyDirect(client: PoolClient, symbol: string, timeframe: string, bars: BarColumns, from: number, to: number): Promise<number> {
  if (to <= from) return 0;
  await pipeline(Readable.from(barLines(symbol, timeframe, bars, from, to)), client.query(copyFrom('COPY bars (symbol, timeframe, ts, open, high, low, close, volume) FROM STDIN')));
  return to - from;
}

async function copyDeduplicated(client: PoolClient, symbol: string, timeframe: string, bars: BarColumns, from: number, to: number): Promise<number> {
  if (to <= from) return 0;
  await client.query('CREATE TEMP TABLE bars_staging (ts_ms float8, open float8, high float8, low float8, close float8, volume float8) ON COMMIT DROP');
  await pipeline(Readable.from(stagingLines(bars, from, to)), client.query(copyFrom('COPY bars_staging FROM STDIN')));
  const { rowCount } = await client.query(
    `INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
     SELECT $1, $2, to_timestamp(ts_ms / 1000.0), open, high, low, close, volume FROM bars_staging
     ON CONFLICT (symbol, timeframe, ts) DO NOTHING`,
    [symbol, timeframe],
  );
  return rowCount ?? 0;
}

/**
 * Stores bars (sorted ascending by ts, unique ts) idempotently at COPY speed. Under a per-series lock, rows
 * outside the span of bars already stored in the file's range cannot collide, so they go straight into `bars`
 * with COPY; rows inside that span go through COPY into a temp table and one INSERT ... ON CONFLICT DO NOTHING.
 * Importing the same file twice inserts nothing the second time. The caller owns `client` (not in a transaction).
 */
export async function importBarColumns(client: PoolClient, symbol: string, timeframe: string, bars: BarColumns): Promise<BarImportCounts> {
  const n = bars.length;
  if (n === 0) return { accepted: 0, inserted: 0, duplicates: 0 };
  await client.query('BEGIN');
  try {
    // A lost commit on a crash is safe here: the import is idempotent and the caller saw no success.
    await client.query('SET LOCAL synchronous_commit = off');
    await lockSeries(client, symbol, timeframe);
    const span = await storedSpan(client, symbol, timeframe, bars.ts[0], bars.ts[n - 1]);
    let inserted: number;
    if (!span) {
      inserted = await copyDirect(client, symbol, timeframe, bars, 0, n);
    } else {
      const lo = lowerBound(bars, span.min);
      const hi = lowerBound(bars, span.max + 1);
      inserted =
        (await copyDirect(client, symbol, timeframe, bars, 0, lo)) +
        (await copyDeduplicated(client, symbol, timeframe, bars, lo, hi)) +
        (await copyDirect(client, symbol, timeframe, bars, hi, n));
    }
    await client.query('COMMIT');
    return { accepted: n, inserted, duplicates: n - inserted };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
