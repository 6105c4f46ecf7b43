import type { DataClock } from '../../domain/marketdata/clock';
import type { Queryable } from './queryable';

/** A market-data feed as the platform recorded it (market_data_feeds). */
export interface Feed {
  provider: string;
  timeframe: string;
  calendar: string;
  settleMs: number;
  /** a replay's clock; null: the wall clock */
  clock: DataClock | null;
  /** the last bar close whose bars are stored and cached, epoch ms */
  watermark: number | null;
  lastRefresh: Record<string, unknown> | null;
  updatedAt: Date;
}

interface FeedRow {
  provider: string;
  timeframe: string;
  calendar: string;
  settle_ms: number;
  clock: DataClock | null;
  watermark: Date | null;
  last_refresh: Record<string, unknown> | null;
  updated_at: Date;
}

const toFeed = (r: FeedRow): Feed => ({
  provider: r.provider,
  timeframe: r.timeframe,
  calendar: r.calendar,
  settleMs: r.settle_ms,
  clock: r.clock,
  watermark: r.watermark === null ? null : r.watermark.getTime(),
  lastRefresh: r.last_refresh,
  updatedAt: r.updated_at,
});

export interface FeedSettings {
  provider: string;
  timeframe: string;
  calendar: string;
  settleMs: number;
  /** a replay's clock, used only when the row has none for the same `clockKey` */
  clock: DataClock | null;
  clockKey: string | null;
}

/**
 * Records a feed (start-up, every worker): its settings apply at once; a replay keeps the clock it started with as
 * long as its settings (`clockKey`) stay the same, so every process and restart agrees on data time, and a new clock
 * forgets the old watermark (it was in the old clock's data time).
 */
export async function upsertFeed(db: Queryable, f: FeedSettings): Promise<Feed> {
  const { rows } = await db.query<FeedRow & Record<string, unknown>>(
    `INSERT INTO market_data_feeds (provider, timeframe, calendar, settle_ms, clock, clock_key) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (provider, timeframe) DO UPDATE SET calendar = EXCLUDED.calendar, settle_ms = EXCLUDED.settle_ms,
       clock = CASE WHEN market_data_feeds.clock_key IS NOT DISTINCT FROM EXCLUDED.clock_key THEN market_data_feeds.clock ELSE EXCLUDED.clock END,
       watermark = CASE WHEN market_data_feeds.clock_key IS NOT DISTINCT FROM EXCLUDED.clock_key THEN market_data_feeds.watermark END,
       clock_key = EXCLUDED.clock_key, updated_at = now()
     RETURNING *`,
    [f.provider, f.timeframe, f.calendar, f.settleMs, f.clock === null ? null : JSON.stringify(f.clock), f.clockKey],
  );
  return toFeed(rows[0]!);
}

export async function getFeed(db: Queryable, provider: string, timeframe: string): Promise<Feed | undefined> {
  const { rows } = await db.query<FeedRow & Record<string, unknown>>('SELECT * FROM market_data_feeds WHERE provider = $1 AND timeframe = $2', [provider, timeframe]);
  return rows[0] && toFeed(rows[0]);
}

export async function listFeeds(db: Queryable): Promise<Feed[]> {
  const { rows } = await db.query<FeedRow & Record<string, unknown>>('SELECT * FROM market_data_feeds ORDER BY provider, timeframe');
  return rows.map(toFeed);
}

/** Forgets feeds the settings no longer name (their workflows end at their next bar). */
export async function deleteFeedsOtherThan(db: Queryable, keep: Array<{ provider: string; timeframe: string }>): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM market_data_feeds WHERE NOT ((provider || \':\' || timeframe) = ANY($1::text[]))', [keep.map((k) => `${k.provider}:${k.timeframe}`)]);
  return rowCount ?? 0;
}

/** The watermark only moves forward; the refresh's summary rides along. */
export async function advanceFeedWatermark(db: Queryable, provider: string, timeframe: string, closeMs: number, summary: Record<string, unknown>): Promise<void> {
  await db.query(
    `UPDATE market_data_feeds SET watermark = greatest(watermark, to_timestamp($3::float8 / 1000.0)), last_refresh = $4, updated_at = now()
     WHERE provider = $1 AND timeframe = $2`,
    [provider, timeframe, closeMs, JSON.stringify(summary)],
  );
}

/** The watermark alone (a cycle's fallback read when Redis is down). */
export async function selectFeedWatermark(db: Queryable, provider: string, timeframe: string): Promise<number | null> {
  const { rows } = await db.query<{ w: number | null }>(
    'SELECT extract(epoch from watermark)::float8 * 1000 AS w FROM market_data_feeds WHERE provider = $1 AND timeframe = $2',
    [provider, timeframe],
  );
  return rows[0]?.w == null ? null : Number(rows[0].w);
}

/** The symbols a feed refreshes: every symbol of the deployments that trade on it and may trade again (one query). */
export async function selectFeedSymbols(db: Queryable, provider: string, timeframe: string): Promise<string[]> {
  const { rows } = await db.query<{ symbol: string }>(
    `SELECT DISTINCT s.symbol FROM deployments d CROSS JOIN LATERAL jsonb_array_elements_text(d.spec->'symbols') AS s(symbol)
     WHERE d.status IN ('running', 'blocked', 'paused') AND d.spec->>'dataProvider' = $1 AND d.spec->>'timeframe' = $2
     ORDER BY s.symbol`,
    [provider, timeframe],
  );
  return rows.map((r) => r.symbol);
}
