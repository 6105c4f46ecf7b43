import type { Queryable } from './queryable';

export const MARKET_DATA_EVENT_KINDS = ['gap_found', 'backfill_done', 'invalid_bars', 'late_bar', 'missing_bar', 'level'] as const;
export type MarketDataEventKind = (typeof MARKET_DATA_EVENT_KINDS)[number];

/** Something that happened to a series (market_data_events). */
export interface MarketDataEvent {
  provider: string;
  timeframe: string;
  symbol: string;
  kind: MarketDataEventKind;
  fromMs?: number;
  toMs?: number;
  bars?: number;
  detail?: Record<string, unknown>;
  /** the same key is written once (activity retries) */
  dedupeKey: string;
}

export interface StoredMarketDataEvent extends Omit<MarketDataEvent, 'dedupeKey'> {
  id: string;
  at: Date;
}

interface Row {
  id: string;
  at: Date;
  provider: string;
  timeframe: string;
  symbol: string;
  kind: MarketDataEventKind;
  from_ms: number | null;
  to_ms: number | null;
  bars: number | null;
  detail: Record<string, unknown>;
}

const toEvent = (r: Row): StoredMarketDataEvent => ({
  id: r.id,
  at: r.at,
  provider: r.provider,
  timeframe: r.timeframe,
  symbol: r.symbol,
  kind: r.kind,
  ...(r.from_ms === null ? {} : { fromMs: Number(r.from_ms) }),
  ...(r.to_ms === null ? {} : { toMs: Number(r.to_ms) }),
  ...(r.bars === null ? {} : { bars: r.bars }),
  detail: r.detail,
});

/** Records events in one statement; an event whose key is there already is skipped. Returns how many were new. */
export async function insertMarketDataEvents(db: Queryable, events: readonly MarketDataEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const col = <T>(f: (e: MarketDataEvent) => T) => events.map(f);
  const { rowCount } = await db.query(
    `INSERT INTO market_data_events (provider, timeframe, symbol, kind, from_ts, to_ts, bars, detail, dedupe_key)
     SELECT p, tf, s, k, to_timestamp(f / 1000.0), to_timestamp(t / 1000.0), b, d, key
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::int[], $8::jsonb[], $9::text[]) AS u(p, tf, s, k, f, t, b, d, key)
     ON CONFLICT (dedupe_key) DO NOTHING`,
    [
      col((e) => e.provider),
      col((e) => e.timeframe),
      col((e) => e.symbol),
      col((e) => e.kind),
      col((e) => e.fromMs ?? null),
      col((e) => e.toMs ?? null),
      col((e) => e.bars ?? null),
      col((e) => JSON.stringify(e.detail ?? {})),
      col((e) => e.dedupeKey),
    ],
  );
  return rowCount ?? 0;
}

/** Events newest first, by series and kind, optionally since a time. */
export async function listMarketDataEvents(
  db: Queryable,
  filter: { symbol?: string; timeframe?: string; kind?: MarketDataEventKind; sinceMs?: number; untilMs?: number },
  limit: number,
): Promise<StoredMarketDataEvent[]> {
  const { rows } = await db.query<Row & Record<string, unknown>>(
    `SELECT id, at, provider, timeframe, symbol, kind, extract(epoch from from_ts)::float8 * 1000 AS from_ms, extract(epoch from to_ts)::float8 * 1000 AS to_ms, bars, detail
     FROM market_data_events
     WHERE ($1::text IS NULL OR symbol = $1) AND ($2::text IS NULL OR timeframe = $2) AND ($3::text IS NULL OR kind = $3)
       AND ($4::float8 IS NULL OR at >= to_timestamp($4 / 1000.0)) AND ($5::float8 IS NULL OR at < to_timestamp($5 / 1000.0))
     ORDER BY at DESC, id DESC LIMIT $6`,
    [filter.symbol ?? null, filter.timeframe ?? null, filter.kind ?? null, filter.sinceMs ?? null, filter.untilMs ?? null, limit],
  );
  return rows.map(toEvent);
}
