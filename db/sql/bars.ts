import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { allocateBars, type Bar, type BarColumns } from '../../domain/bars';
import { BarCopyParser } from '../bar-copy';
import type { Queryable } from './queryable';

export interface BarRange {
  symbol: string;
  timeframe: string;
  /** inclusive ISO 8601 bounds on the bar open time */
  from?: string;
  to?: string;
}

/** The range's bar count and its first and last bar open times (null when it holds none). */
export async function barSpan(db: Queryable, r: BarRange): Promise<{ count: number; first: Date | null; last: Date | null }> {
  const { rows } = await db.query<{ n: string; first: Date | null; last: Date | null }>(
    `SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ($3::timestamptz IS NULL OR ts >= $3) AND ($4::timestamptz IS NULL OR ts <= $4)`,
    [r.symbol, r.timeframe, r.from ?? null, r.to ?? null],
  );
  return { count: Number(rows[0]?.n ?? 0), first: rows[0]?.first ?? null, last: rows[0]?.last ?? null };
}

/** A pool that hands out pg clients (COPY needs a client of its own). */
export interface CopySource {
  connect(): Promise<PoolClient>;
}

/** The range's rows, oldest first, in COPY's binary format. COPY takes no parameters: the literals are escaped by the client. */
function copyBarsSql(client: PoolClient, r: BarRange): string {
  const bound = (op: string, v: string | undefined) => (v === undefined ? '' : ` AND ts ${op} ${client.escapeLiteral(v)}::timestamptz`);
  return `COPY (SELECT ts, open, high, low, close, volume FROM bars
    WHERE symbol = ${client.escapeLiteral(r.symbol)} AND timeframe = ${client.escapeLiteral(r.timeframe)}${bound('>=', r.from)}${bound('<=', r.to)}
    ORDER BY ts) TO STDOUT (FORMAT binary)`;
}

/**
 * Loads a range into typed-array columns with one binary COPY, parsed as it streams (db/bar-copy.ts). `expected`
 * sizes the columns; without it they grow as rows arrive and are trimmed at the end (cheaper than counting the
 * rows first, which costs about a third of the COPY). `onProgress` hears the bars loaded every 64k bars.
 */
export async function loadBarColumns(
  db: CopySource,
  r: BarRange,
  opts: { expected?: number; onProgress?: (loaded: number) => void } = {},
): Promise<BarColumns> {
  const client = await db.connect();
  try {
    const parser = new BarCopyParser(opts.expected ?? 65_536, opts.onProgress);
    await pipeline(client.query(copyTo(copyBarsSql(client, r))), parser);
    return opts.expected === undefined ? trimmed(parser.bars) : parser.bars;
  } finally {
    client.release();
  }
}

/** Columns no longer than their bars, when growing left more than an eighth unused. */
function trimmed(bars: BarColumns): BarColumns {
  if (bars.ts.length - bars.length <= bars.length / 8) return bars;
  const out = allocateBars(bars.length);
  for (const k of ['ts', 'open', 'high', 'low', 'close', 'volume'] as const) out[k].set(bars[k].subarray(0, bars.length));
  out.length = bars.length;
  return out;
}

/** Symbols and timeframes with their bar counts and spans. */
export async function listBarSeries(db: Queryable): Promise<Array<{ symbol: string; timeframe: string; bars: number; first: Date; last: Date }>> {
  const { rows } = await db.query<{ symbol: string; timeframe: string; bars: string; first: Date; last: Date }>(
    'SELECT symbol, timeframe, count(*) AS bars, min(ts) AS first, max(ts) AS last FROM bars GROUP BY symbol, timeframe ORDER BY symbol, timeframe',
  );
  return rows.map((r) => ({ ...r, bars: Number(r.bars) }));
}

export interface Candle {
  /** open time of the candle's first bar, epoch ms */
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** bars merged into this candle */
  bars: number;
}

/**
 * A range's bars merged into at most `maxCandles` candles of consecutive bars (near-equal counts, in time order):
 * the first bar's open, the highest high, the lowest low, the last bar's close, the summed volume. A range of at
 * most maxCandles bars comes back bar for bar.
 */
export async function selectCandles(db: Queryable, r: BarRange, maxCandles: number): Promise<Candle[]> {
  const { rows } = await db.query<Candle & Record<string, unknown>>(
    `SELECT extract(epoch from min(ts))::float8 * 1000 AS ts, (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high,
            min(low) AS low, (array_agg(close ORDER BY ts DESC))[1] AS close, sum(volume) AS volume, count(*)::int AS bars
     FROM (SELECT ts, open, high, low, close, volume, (row_number() OVER (ORDER BY ts) - 1) * $5 / count(*) OVER () AS k
           FROM bars
           WHERE symbol = $1 AND timeframe = $2 AND ($3::timestamptz IS NULL OR ts >= $3) AND ($4::timestamptz IS NULL OR ts <= $4)) b
     GROUP BY k ORDER BY k`,
    [r.symbol, r.timeframe, r.from ?? null, r.to ?? null, maxCandles],
  );
  return rows;
}

/** The latest `limit` bars with ts <= asOfMs, returned ascending (a cycle's window, read when Redis cannot serve it). */
export async function selectLatestBars(db: Queryable, symbol: string, timeframe: string, asOfMs: number, limit: number): Promise<Bar[]> {
  const { rows } = await db.query<Bar & Record<string, unknown>>(
    `SELECT (extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts <= $3::timestamptz
     ORDER BY ts DESC LIMIT $4`,
    [symbol, timeframe, new Date(asOfMs).toISOString(), limit],
  );
  return rows.map((r) => ({ ts: Number(r.ts), open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume })).reverse();
}
