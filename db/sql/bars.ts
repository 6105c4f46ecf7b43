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

/** Bars of several symbols with fromMs <= ts <= toMs, by symbol then time (the replay provider's read). */
export async function selectBarsOfSymbols(db: Queryable, symbols: readonly string[], timeframe: string, fromMs: number, toMs: number): Promise<Array<Bar & { symbol: string }>> {
  const { rows } = await db.query<Bar & { symbol: string } & Record<string, unknown>>(
    `SELECT symbol, (extract(epoch from ts) * 1000)::float8 AS ts, open, high, low, close, volume FROM bars
     WHERE symbol = ANY($1::text[]) AND timeframe = $2 AND ts BETWEEN to_timestamp($3::float8 / 1000.0) AND to_timestamp($4::float8 / 1000.0)
     ORDER BY symbol, ts`,
    [symbols, timeframe, fromMs, toMs],
  );
  return rows.map((r) => ({ symbol: r.symbol, ts: Number(r.ts), open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume }));
}

/** Per symbol, the open time of its newest stored bar (symbols without bars left out): one index probe each. */
export async function selectLastBarOpens(db: Queryable, symbols: readonly string[], timeframe: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ symbol: string; ts: number }>(
    `SELECT s.symbol, (extract(epoch from last.ts) * 1000)::float8 AS ts
     FROM unnest($1::text[]) AS s(symbol)
     CROSS JOIN LATERAL (SELECT ts FROM bars WHERE symbol = s.symbol AND timeframe = $2 ORDER BY ts DESC LIMIT 1) AS last`,
    [symbols, timeframe],
  );
  return new Map(rows.map((r) => [r.symbol, Number(r.ts)]));
}

export interface SymbolBar extends Bar {
  symbol: string;
}

/** Stores bars of many symbols in one statement; bars already stored are left as they are. Returns the rows inserted. */
export async function insertBarsBatch(db: Queryable, timeframe: string, bars: readonly SymbolBar[]): Promise<number> {
  if (bars.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
     SELECT s, $2, to_timestamp(t / 1000.0), o, h, l, c, v FROM unnest($1::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[]) AS u(s, t, o, h, l, c, v)
     ON CONFLICT (symbol, timeframe, ts) DO NOTHING`,
    [bars.map((b) => b.symbol), timeframe, ...barColumnsOf(bars)],
  );
  return rowCount ?? 0;
}

/** Stores bars of many symbols, replacing stored bars whose values differ (a full re-sync). */
export async function upsertBarsBatch(db: Queryable, timeframe: string, bars: readonly SymbolBar[]): Promise<{ inserted: number; replaced: number }> {
  if (bars.length === 0) return { inserted: 0, replaced: 0 };
  const { rows } = await db.query<{ inserted: boolean }>(
    `INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
     SELECT s, $2, to_timestamp(t / 1000.0), o, h, l, c, v FROM unnest($1::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[]) AS u(s, t, o, h, l, c, v)
     ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close, volume = EXCLUDED.volume
       WHERE (bars.open, bars.high, bars.low, bars.close, bars.volume) IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume)
     RETURNING (xmax = 0) AS inserted`,
    [bars.map((b) => b.symbol), timeframe, ...barColumnsOf(bars)],
  );
  const inserted = rows.filter((r) => r.inserted).length;
  return { inserted, replaced: rows.length - inserted };
}

function barColumnsOf(bars: readonly Bar[]): number[][] {
  return [bars.map((b) => b.ts), bars.map((b) => b.open), bars.map((b) => b.high), bars.map((b) => b.low), bars.map((b) => b.close), bars.map((b) => b.volume)];
}

/** Open times of one series' stored bars in [fromMs, toMs], ascending (a backfill chunk's plan). */
export async function selectBarOpensBetween(db: Queryable, symbol: string, timeframe: string, fromMs: number, toMs: number): Promise<number[]> {
  const { rows } = await db.query<{ t: number[] | null }>(
    `SELECT array_agg((extract(epoch from ts) * 1000)::float8 ORDER BY ts) AS t FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ts BETWEEN to_timestamp($3::float8 / 1000.0) AND to_timestamp($4::float8 / 1000.0)`,
    [symbol, timeframe, fromMs, toMs],
  );
  return (rows[0]?.t ?? []).map(Number);
}

/** Per symbol, how many bars are stored with fromMs <= ts <= toMs (symbols without any left out). */
export async function countBarsOfSymbols(db: Queryable, symbols: readonly string[], timeframe: string, fromMs: number, toMs: number): Promise<Map<string, number>> {
  const { rows } = await db.query<{ symbol: string; n: number }>(
    `SELECT symbol, count(*)::int AS n FROM bars
     WHERE symbol = ANY($1::text[]) AND timeframe = $2 AND ts BETWEEN to_timestamp($3::float8 / 1000.0) AND to_timestamp($4::float8 / 1000.0)
     GROUP BY symbol`,
    [symbols, timeframe, fromMs, toMs],
  );
  return new Map(rows.map((r) => [r.symbol, Number(r.n)]));
}
