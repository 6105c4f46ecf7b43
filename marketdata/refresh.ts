/**
 * One refresh of a feed (provider x timeframe) for the bar closing at T: the symbols of the deployments that trade on
 * it, their bar T fetched in as few multi-symbol requests as possible, stored in Postgres in one statement and cached
 * in Redis in one round trip (per 20,000 bars: a warm-up of many new series takes a few).
 *
 * Per symbol, the last stored bar decides what to fetch: nothing when T is stored already; T alone when the series
 * reaches the bar before it; the missing range and T together when it does not (a gap: recorded as found, filled in
 * order in the same statement, recorded as done); the newest `maxInlineGapBars` bars and T when the gap is longer (the
 * rest becomes a backfill job); `warmupBars` bars and T for a series with none. Symbols that start at the same bar
 * share requests. A symbol whose bar T has not come is asked again every `latePollMs` until `lateBarWaitMs` has passed
 * (a late bar; one that never comes is a missing bar). Only then is the watermark published (watermark.ts): the
 * cycles that wait for T then find every bar that came. Events and quality levels follow (refresh-quality.ts).
 */
import type { Pool } from 'pg';
import type { Redis } from 'ioredis';
import { insertBarsBatch, selectLastBarOpens, selectLatestBars, type SymbolBar } from '../db/sql/bars';
import { selectFeedSymbols, type Feed } from '../db/sql/market-data-feeds';
import type { MarketDataEvent } from '../db/sql/market-data-events';
import type { Timeframe } from '../domain/bars';
import { calendarBarAt, calendarBarClosingAt, type CalendarBar } from '../domain/marketdata/calendar-bars';
import { dataTimeAt } from '../domain/marketdata/clock';
import { gapBetween, openBarsBefore, type Gap } from '../domain/marketdata/gaps';
import { DEFAULT_QUALITY_THRESHOLDS, type QualityThresholds } from '../domain/marketdata/quality';
import type { BarCache } from './cache';
import type { MarketDataProvider } from './provider';
import { recordRefreshQuality, type SeriesLevel, type SymbolOutcome } from './refresh-quality';
import { fetchScreenedBars } from './source';
import { publishWatermark } from './watermark';

export interface RefreshSettings {
  lateBarWaitMs: number;
  latePollMs: number;
  maxInlineGapBars: number;
  warmupBars: number;
  thresholds: QualityThresholds;
}

/** Defaults: a late bar is asked for every 2 s for 20 s; a gap of up to 500 bars is filled inline; 300 bars of warm-up. */
export const DEFAULT_REFRESH_SETTINGS: Readonly<RefreshSettings> = Object.freeze({
  lateBarWaitMs: 20_000,
  latePollMs: 2_000,
  maxInlineGapBars: 500,
  warmupBars: 300,
  thresholds: DEFAULT_QUALITY_THRESHOLDS,
});

export interface RefreshDeps {
  db: Pool;
  redis: Redis;
  cache: BarCache;
  settings: RefreshSettings;
  /** wall clock */
  now: () => number;
  heartbeat: (details: unknown) => void;
  signal?: AbortSignal;
}

/** A gap too long to fill inline: the range a backfill job is recorded for. */
export interface LongGap {
  symbol: string;
  fromMs: number;
  toMs: number;
}

export interface RefreshSummary {
  barClose: number;
  symbols: number;
  /** bars stored (T and any gap and warm-up bars) */
  stored: number;
  /** symbols whose bar T is stored */
  onTime: number;
  late: number;
  missing: number;
  gaps: number;
  invalid: number;
  requests: number;
  /** ms from the bar close (data time) until the first batch was stored and cached */
  firstStoredMs: number | null;
  levels: { OK: number; WARNING: number; ERROR: number };
  /** symbols at ERROR, first few */
  errorSymbols: string[];
  alerts: number;
  longGaps: LongGap[];
  /** every refreshed symbol's level (for the worker's gauge; not part of the workflow's view) */
  series: SeriesLevel[];
}

interface Pending {
  symbol: string;
  /** what Postgres held before this refresh */
  before: number | null;
  /** the newest stored now */
  last: number | null;
  gap: Gap | null;
  /** invalid bars seen (the largest count of any pass: later passes ask for less) and a few of their times */
  invalid: number;
  samples: number[];
  /** data time bar T was stored, and in which pass */
  storedAt?: number;
  storedPass?: number;
  passes: number;
}

export async function refreshFeed(deps: RefreshDeps, feed: Feed, provider: MarketDataProvider, closeMs: number): Promise<RefreshSummary> {
  const { db, settings } = deps;
  const tf = feed.timeframe as Timeframe;
  const cal = provider.calendar;
  const bar = calendarBarClosingAt(cal, closeMs, tf);
  if (bar === null) throw new RangeError(`${new Date(closeMs).toISOString()} is not where a ${tf} bar of ${cal} closes`);
  const dataNow = () => dataTimeAt(feed.clock, deps.now());
  const symbols = await selectFeedSymbols(db, provider.name, tf);
  const lastStored = symbols.length ? await selectLastBarOpens(db, symbols, tf) : new Map<string, number>();
  const state = new Map<string, Pending>(symbols.map((s) => [s, { symbol: s, before: lastStored.get(s) ?? null, last: lastStored.get(s) ?? null, gap: null, invalid: 0, samples: [], passes: 0 }]));
  const summary: RefreshSummary = { barClose: closeMs, symbols: symbols.length, stored: 0, onTime: 0, late: 0, missing: 0, gaps: 0, invalid: 0, requests: 0, firstStoredMs: null, levels: { OK: 0, WARNING: 0, ERROR: 0 }, errorSymbols: [], alerts: 0, longGaps: [], series: [] };
  const events: MarketDataEvent[] = [];
  const eventKey = (symbol: string, kind: string) => `${provider.name}:${tf}:${symbol}:${closeMs}:${kind}`;

  /** Where each symbol still lacking bar T starts, grouped (one request per group). */
  const plan = (first: boolean): Map<number, Pending[]> => {
    const groups = new Map<number, Pending[]>();
    for (const p of state.values()) {
      if (p.last !== null && p.last >= bar.open) continue;
      let from: number;
      if (p.last === null) from = openBarsBefore(cal, tf, bar.open, settings.warmupBars);
      else {
        const gap = gapBetween(cal, tf, p.last, bar.open);
        from = gap === null ? bar.open : gap.bars <= settings.maxInlineGapBars ? gap.fromMs : openBarsBefore(cal, tf, bar.open, settings.maxInlineGapBars);
        if (first && gap !== null) {
          p.gap = gap;
          events.push({ provider: provider.name, timeframe: tf, symbol: p.symbol, kind: 'gap_found', fromMs: gap.fromMs, toMs: gap.toMs, bars: gap.bars, dedupeKey: eventKey(p.symbol, 'gap_found') });
          if (from > gap.fromMs) summary.longGaps.push({ symbol: p.symbol, fromMs: gap.fromMs, toMs: openBarsBefore(cal, tf, from, 1) });
        }
      }
      groups.set(from, [...(groups.get(from) ?? []), p]);
    }
    return groups;
  };

  const fetchAndStore = async (from: number, group: Pending[]): Promise<void> => {
    summary.requests++;
    const screened = await fetchScreenedBars(provider, { symbols: group.map((p) => p.symbol), timeframe: tf, fromMs: from, toMs: bar.open, nowMs: dataNow(), live: true }, deps.signal);
    const rows: SymbolBar[] = [];
    const cacheEntries: Array<{ symbol: string; prevTs: number | null; bars: SymbolBar[] }> = [];
    for (const p of group) {
      const s = screened.get(p.symbol)!;
      p.invalid = Math.max(p.invalid, s.invalid);
      for (const r of s.samples) if (p.samples.length < 5 && !p.samples.includes(r.ts)) p.samples.push(r.ts);
      const fresh = s.bars.filter((b) => p.last === null || b.ts > p.last).map((b) => ({ ...b, symbol: p.symbol }));
      if (fresh.length === 0) continue;
      rows.push(...fresh);
      // The cache stays a contiguous suffix: append right after the newest cached bar, else replace the series.
      const follows = p.last !== null && gapBetween(cal, tf, p.last, fresh[0]!.ts) === null;
      cacheEntries.push({ symbol: p.symbol, prevTs: follows ? p.last : null, bars: fresh });
    }
    if (rows.length === 0) return;
    summary.stored += await insertBarsBatch(db, tf, rows);
    await cacheOrReseed(deps, tf, bar.open, cacheEntries);
    const at = dataNow();
    summary.firstStoredMs ??= at - closeMs;
    for (const e of cacheEntries) {
      const p = state.get(e.symbol)!;
      p.last = e.bars[e.bars.length - 1]!.ts;
      if (p.last >= bar.open) {
        p.storedAt = at;
        p.storedPass = p.passes;
      }
    }
    deps.heartbeat({ closeMs, stored: summary.stored });
  };

  const pass = async (first: boolean) => {
    const groups = [...plan(first)].sort(([a], [b]) => (a === bar.open ? -1 : b === bar.open ? 1 : b - a)); // bar T alone first: most symbols
    for (const [from, group] of groups) {
      for (const p of group) p.passes++;
      await fetchAndStore(from, group);
    }
    return groups.length;
  };

  if (symbols.length > 0 && (await pass(true)) > 0) {
    const deadline = deps.now() + settings.lateBarWaitMs;
    while ([...state.values()].some((p) => p.storedAt === undefined && !(p.last !== null && p.last >= bar.open)) && deps.now() + settings.latePollMs <= deadline) {
      await sleep(settings.latePollMs, deps.signal);
      await pass(false);
    }
  }

  const outcomes: SymbolOutcome[] = [...state.values()].map((p) => outcome(p, bar, events, provider.name, tf, eventKey, cal));
  summary.onTime = outcomes.filter((o) => o.received && !o.late).length;
  summary.late = outcomes.filter((o) => o.late).length;
  summary.missing = outcomes.filter((o) => !o.received).length;
  summary.gaps = outcomes.filter((o) => o.gap !== null).length;
  summary.invalid = outcomes.reduce((n, o) => n + o.invalid, 0);
  await publishWatermark(db, deps.redis, provider.name, tf, closeMs, { at: new Date(deps.now()).toISOString(), symbols: summary.symbols, stored: summary.stored, late: summary.late, missing: summary.missing });
  const quality = await recordRefreshQuality(db, { provider: provider.name, timeframe: tf, calendar: cal, bar, nowMs: dataNow(), thresholds: settings.thresholds }, outcomes, events);
  return { ...summary, levels: quality.levels, errorSymbols: quality.errorSymbols, alerts: quality.alerts, series: quality.series };
}

/** What became of one symbol in this refresh, and its events. */
function outcome(p: Pending, bar: CalendarBar, events: MarketDataEvent[], provider: string, tf: Timeframe, key: (s: string, k: string) => string, cal: 'XNYS' | '24x7'): SymbolOutcome {
  const already = p.before !== null && p.before >= bar.open;
  const received = already || p.storedAt !== undefined;
  const late = !already && (p.storedPass ?? 0) > 1;
  const base = { provider, timeframe: tf, symbol: p.symbol };
  if (p.gap !== null && p.last !== null) {
    const filledTo = Math.min(p.last, p.gap.toMs);
    events.push({ ...base, kind: 'backfill_done', fromMs: p.gap.fromMs, toMs: p.gap.toMs, bars: p.gap.bars, detail: { storedThrough: filledTo >= p.gap.fromMs ? new Date(filledTo).toISOString() : null, inline: true }, dedupeKey: key(p.symbol, 'backfill_done') });
  }
  if (p.invalid > 0) events.push({ ...base, kind: 'invalid_bars', bars: p.invalid, detail: { samples: p.samples.map((t) => (Number.isFinite(t) ? new Date(t).toISOString() : String(t))) }, dedupeKey: key(p.symbol, 'invalid_bars') });
  if (late) events.push({ ...base, kind: 'late_bar', fromMs: bar.open, toMs: bar.open, bars: 1, detail: { delayMs: p.storedAt! - bar.close }, dedupeKey: key(p.symbol, 'late_bar') });
  if (!received) events.push({ ...base, kind: 'missing_bar', fromMs: bar.open, toMs: bar.open, bars: 1, detail: { waitedPasses: p.passes }, dedupeKey: key(p.symbol, 'missing_bar') });
  const lastClose = p.last === null ? null : (calendarBarAt(cal, p.last, tf)?.close ?? p.last);
  return { symbol: p.symbol, received, late, gap: p.gap, invalid: p.invalid, storedAt: p.storedAt ?? null, lastClose };
}

/** Appends to the cache; a series the cache missed bars of (Redis was down) is re-seeded from Postgres. */
async function cacheOrReseed(deps: RefreshDeps, tf: Timeframe, asOfMs: number, entries: Array<{ symbol: string; prevTs: number | null; bars: SymbolBar[] }>): Promise<void> {
  try {
    const dropped = await deps.cache.appendMany(tf, entries);
    for (const symbol of dropped) await deps.cache.replaceBars(symbol, tf, await selectLatestBars(deps.db, symbol, tf, asOfMs, deps.cache.maxBars));
  } catch {
    // Redis down: Postgres has the bars; readers fall back to it, and a later refresh re-seeds the hole it left.
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}
