import type { QualityLevel } from '../../domain/marketdata/quality';
import type { Queryable } from './queryable';

/** One series' quality on one trading day (market_data_quality). */
export interface QualityRow {
  day: string;
  provider: string;
  timeframe: string;
  symbol: string;
  expected: number;
  received: number;
  invalid: number;
  gaps: number;
  late: number;
  maxDelayMs: number;
  refreshes: number;
  level: QualityLevel;
  updatedAt: Date;
}

interface Row {
  day: string;
  provider: string;
  timeframe: string;
  symbol: string;
  expected: number;
  received: number;
  invalid: number;
  gaps: number;
  late: number;
  max_delay_ms: string;
  refreshes: number;
  level: QualityLevel;
  updated_at: Date;
}

const toQuality = (r: Row): QualityRow => ({
  day: r.day,
  provider: r.provider,
  timeframe: r.timeframe,
  symbol: r.symbol,
  expected: r.expected,
  received: r.received,
  invalid: r.invalid,
  gaps: r.gaps,
  late: r.late,
  maxDelayMs: Number(r.max_delay_ms),
  refreshes: r.refreshes,
  level: r.level,
  updatedAt: r.updated_at,
});

/** What one refresh learned about one series on one day: expected and received replace, the rest add up. */
export interface QualityUpdate {
  day: string;
  symbol: string;
  expected: number;
  received: number;
  invalid: number;
  gaps: number;
  late: number;
  delayMs: number;
  level: QualityLevel;
}

/**
 * Upserts the day rows of many series in one statement and returns each one's level before this update (null for a
 * new row), so the caller can tell which series just reached a level.
 */
export async function upsertQualityRows(db: Queryable, provider: string, timeframe: string, u: readonly QualityUpdate[]): Promise<Map<string, QualityLevel | null>> {
  if (u.length === 0) return new Map();
  const { rows } = await db.query<{ symbol: string; day: string; before: QualityLevel | null }>(
    `WITH input AS (
       SELECT * FROM unnest($3::date[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[], $10::bigint[], $11::text[])
         AS u(day, symbol, expected, received, invalid, gaps, late, delay_ms, level)),
     before AS (
       SELECT q.day, q.symbol, q.level FROM market_data_quality q JOIN input i USING (day, symbol) WHERE q.provider = $1 AND q.timeframe = $2),
     up AS (
       INSERT INTO market_data_quality AS q (day, provider, timeframe, symbol, expected, received, invalid, gaps, late, max_delay_ms, refreshes, level)
       SELECT day, $1, $2, symbol, expected, received, invalid, gaps, late, delay_ms, 1, level FROM input
       ON CONFLICT (day, provider, timeframe, symbol) DO UPDATE SET expected = EXCLUDED.expected, received = EXCLUDED.received,
         invalid = q.invalid + EXCLUDED.invalid, gaps = q.gaps + EXCLUDED.gaps, late = q.late + EXCLUDED.late,
         max_delay_ms = greatest(q.max_delay_ms, EXCLUDED.max_delay_ms), refreshes = q.refreshes + 1, level = EXCLUDED.level, updated_at = now()
       RETURNING q.day, q.symbol)
     SELECT up.symbol, up.day::text AS day, before.level AS before FROM up LEFT JOIN before USING (day, symbol)`,
    [provider, timeframe, u.map((x) => x.day), u.map((x) => x.symbol), u.map((x) => x.expected), u.map((x) => x.received), u.map((x) => x.invalid), u.map((x) => x.gaps), u.map((x) => x.late), u.map((x) => Math.round(x.delayMs)), u.map((x) => x.level)],
  );
  return new Map(rows.map((r) => [`${r.day}:${r.symbol}`, r.before]));
}

/** The rows of one day (every provider and timeframe unless given), worst level first. */
export async function listQualityOfDay(db: Queryable, day: string, filter: { provider?: string; timeframe?: string; symbol?: string } = {}): Promise<QualityRow[]> {
  const { rows } = await db.query<Row & Record<string, unknown>>(
    `SELECT day::text AS day, provider, timeframe, symbol, expected, received, invalid, gaps, late, max_delay_ms, refreshes, level, updated_at
     FROM market_data_quality
     WHERE day = $1 AND ($2::text IS NULL OR provider = $2) AND ($3::text IS NULL OR timeframe = $3) AND ($4::text IS NULL OR symbol = $4)
     ORDER BY CASE level WHEN 'ERROR' THEN 0 WHEN 'WARNING' THEN 1 ELSE 2 END, provider, timeframe, symbol`,
    [day, filter.provider ?? null, filter.timeframe ?? null, filter.symbol ?? null],
  );
  return rows.map(toQuality);
}
