import { allocateBars, appendBar, type Bar, type BarColumns } from '../../domain/bars';
import type { Queryable } from './queryable';

export interface BarRange {
  symbol: string;
  timeframe: string;
  /** inclusive ISO 8601 bounds on the bar open time */
  from?: string;
  to?: string;
}

/** How many bars a range holds (sizes the columns before loading). */
export async function countBars(db: Queryable, r: BarRange): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ($3::timestamptz IS NULL OR ts >= $3) AND ($4::timestamptz IS NULL OR ts <= $4)`,
    [r.symbol, r.timeframe, r.from ?? null, r.to ?? null],
  );
  return Number(rows[0]?.n ?? 0);
}

/** One page of bars as arrays of numbers (epoch ms first), ordered by time, starting after `afterMs` (null: from the start). */
export async function selectBarPage(db: Queryable, r: BarRange, afterMs: number | null, limit: number): Promise<number[][]> {
  const { rows } = await db.query<{ r: number[] }>(
    `SELECT ARRAY[extract(epoch from ts) * 1000, open, high, low, close, volume]::float8[] AS r FROM bars
     WHERE symbol = $1 AND timeframe = $2 AND ($3::float8 IS NULL OR ts > to_timestamp($3::float8 / 1000.0))
       AND ($4::timestamptz IS NULL OR ts >= $4) AND ($5::timestamptz IS NULL OR ts <= $5)
     ORDER BY ts LIMIT $6`,
    [r.symbol, r.timeframe, afterMs, r.from ?? null, r.to ?? null, limit],
  );
  return rows.map((row) => row.r);
}

/** Loads a range into typed-array columns page by page, reporting progress after each page. */
export async function loadBarColumns(
  db: Queryable,
  r: BarRange,
  onPage: (loaded: number, total: number) => void | Promise<void> = () => undefined,
  pageSize = 50_000,
): Promise<BarColumns> {
  const total = await countBars(db, r);
  const bars = allocateBars(total);
  let after: number | null = null;
  while (bars.length < total) {
    const page = await selectBarPage(db, r, after, Math.min(pageSize, total - bars.length));
    if (page.length === 0) break; // rows deleted meanwhile
    for (const [ts, open, high, low, close, volume] of page) appendBar(bars, { ts, open, high, low, close, volume });
    after = bars.ts[bars.length - 1];
    await onPage(bars.length, total);
  }
  return bars;
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
