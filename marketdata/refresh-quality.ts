/**
 * After a refresh: each series' quality level for the day so far, its events, and alerts. The missing rate counts the
 * calendar bars of today's session up to bar T against the bars stored (one query for every symbol, so a gap a
 * backfill filled counts as received again); the delay is how late bar T came, or how long the session has gone
 * without a new bar when it did not come. A series at ERROR is alerted through the notification outbox once per
 * symbol and day (the dedupe key), and every change of level is an event.
 */
import type { Pool } from 'pg';
import { countBarsOfSymbols } from '../db/sql/bars';
import { insertMarketDataEvents, type MarketDataEvent } from '../db/sql/market-data-events';
import { upsertQualityRows, type QualityUpdate } from '../db/sql/market-data-quality';
import { enqueueNotification } from '../db/sql/notifications';
import { inTransaction } from '../db/sql/queryable';
import type { Timeframe } from '../domain/bars';
import { localDate, parseLocalDate, sessionFor, toIsoDate } from '../domain/calendar';
import type { CalendarBar } from '../domain/marketdata/calendar-bars';
import { countCalendarBars } from '../domain/marketdata/calendar-bars';
import type { Gap } from '../domain/marketdata/gaps';
import { qualityLevel, type QualityLevel, type QualityThresholds } from '../domain/marketdata/quality';

export interface SymbolOutcome {
  symbol: string;
  /** bar T is stored (now or before) */
  received: boolean;
  late: boolean;
  gap: Gap | null;
  invalid: number;
  /** data time bar T was stored, null when it was not (or was stored before this refresh) */
  storedAt: number | null;
  /** close of the newest stored bar */
  lastClose: number | null;
}

export interface QualityContext {
  provider: string;
  timeframe: Timeframe;
  calendar: 'XNYS' | '24x7';
  bar: CalendarBar;
  /** data time now */
  nowMs: number;
  thresholds: QualityThresholds;
}

/** A series' level after this refresh (the data-quality gauge of the worker's /metrics). */
export interface SeriesLevel {
  symbol: string;
  level: QualityLevel;
}

/** Dedupe key of a series' quality alert: one per symbol and day. */
export const qualityAlertKey = (provider: string, timeframe: string, symbol: string, day: string) => `marketdata.quality:${provider}:${timeframe}:${symbol}:${day}`;

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const minutes = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`);

export async function recordRefreshQuality(
  db: Pool,
  ctx: QualityContext,
  outcomes: readonly SymbolOutcome[],
  events: MarketDataEvent[],
): Promise<{ levels: Record<QualityLevel, number>; errorSymbols: string[]; alerts: number; series: SeriesLevel[] }> {
  const levels: Record<QualityLevel, number> = { OK: 0, WARNING: 0, ERROR: 0 };
  if (outcomes.length === 0) return { levels, errorSymbols: [], alerts: 0, series: [] };
  const { provider, timeframe, calendar, bar } = ctx;
  const session = sessionFor(calendar, bar.open)!;
  const day = toIsoDate(parseLocalDate(localDate(calendar, bar.open)));
  const expected = countCalendarBars(calendar, timeframe, session.open, bar.open);
  const stored = await countBarsOfSymbols(db, outcomes.map((o) => o.symbol), timeframe, session.open, bar.open);

  const updates: QualityUpdate[] = outcomes.map((o) => {
    const received = Math.min(expected, stored.get(o.symbol) ?? 0);
    const missingRate = expected === 0 ? 0 : (expected - received) / expected;
    const delayMs = Math.max(0, o.storedAt !== null ? o.storedAt - bar.close : o.received ? 0 : ctx.nowMs - Math.max(o.lastClose ?? session.open, session.open));
    const level = qualityLevel(missingRate, delayMs, ctx.thresholds);
    levels[level]++;
    return { day, symbol: o.symbol, expected, received, invalid: o.invalid, gaps: o.gap === null ? 0 : 1, late: o.late ? 1 : 0, delayMs, level };
  });

  let alerts = 0;
  await inTransaction(db, async (tx) => {
    const before = await upsertQualityRows(tx, provider, timeframe, updates);
    for (const u of updates) {
      const was = before.get(`${day}:${u.symbol}`) ?? null;
      if (u.level === was || (was === null && u.level === 'OK')) continue;
      const detail = { from: was ?? 'OK', to: u.level, missingRate: u.expected ? (u.expected - u.received) / u.expected : 0, delayMs: u.delayMs, expected: u.expected, received: u.received };
      events.push({ provider, timeframe, symbol: u.symbol, kind: 'level', detail, dedupeKey: `${provider}:${timeframe}:${u.symbol}:${bar.close}:level` });
    }
    await insertMarketDataEvents(tx, events);
    // The outbox row commits with the quality row that caused it; the dedupe key keeps it to one per symbol and day.
    for (const u of updates.filter((x) => x.level === 'ERROR')) {
      const missing = u.expected ? (u.expected - u.received) / u.expected : 0;
      const n = await enqueueNotification(tx, {
        kind: 'marketdata.quality',
        severity: 'critical',
        subject: `${u.symbol} ${timeframe} market data at ERROR (${provider})`,
        body: `${u.symbol} ${timeframe} from ${provider} on ${day}: ${u.received} of ${u.expected} bars so far (missing ${pct(missing)}), newest bar ${minutes(u.delayMs)} late. Levels: missing > ${pct(ctx.thresholds.missingError)} or delay > ${minutes(ctx.thresholds.delayErrorMs)} is ERROR.`,
        payload: { provider, timeframe, symbol: u.symbol, day, expected: u.expected, received: u.received, missingRate: missing, delayMs: u.delayMs },
        dedupeKey: qualityAlertKey(provider, timeframe, u.symbol, day),
      });
      if (n.created) alerts++;
    }
  });
  return { levels, errorSymbols: updates.filter((u) => u.level === 'ERROR').map((u) => u.symbol).slice(0, 20), alerts, series: updates.map((u) => ({ symbol: u.symbol, level: u.level })) };
}
