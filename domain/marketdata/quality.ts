/**
 * What a provider's bars are worth before they are stored, and how good a series is (DESIGN.md, data quality
 * levels). Pure: the caller passes the clock.
 *
 * Screening (`screenFeedBars`), for bars a provider returned for one symbol and timeframe:
 *  - invalid, skipped and counted: a time that is not a finite epoch ms, prices or volume validateBar refuses, a bar
 *    opening in the future, a second bar at the same time;
 *  - outside every session (extended hours), ignored and counted apart: providers serve them, the calendar has no
 *    bar there;
 *  - not a bar of the calendar (misaligned), invalid;
 *  - not closed yet (a forming candle some providers serve), left for the next refresh: only closed candles are stored.
 *
 * Levels: missing rate = bars missing / bars expected (the calendar's), delay = how late the newest bar came (or how
 * old the newest stored bar is when the expected one never came). Missing > 5 % WARNING, > 20 % ERROR; delay > 5 min
 * WARNING, > 10 min ERROR; the worse one wins. Thresholds are settings (a value strictly above one reaches its level).
 */
import { validateBar, type Bar, type Timeframe } from '../bars';
import { sessionFor, type CalendarLike, type TradingSession } from '../calendar/calendar';
import { calendarBarInSession } from './calendar-bars';

export const QUALITY_LEVELS = ['OK', 'WARNING', 'ERROR'] as const;
export type QualityLevel = (typeof QUALITY_LEVELS)[number];

export interface QualityThresholds {
  missingWarning: number;
  missingError: number;
  delayWarningMs: number;
  delayErrorMs: number;
}

/** DESIGN.md's levels. */
export const DEFAULT_QUALITY_THRESHOLDS: Readonly<QualityThresholds> = Object.freeze({
  missingWarning: 0.05,
  missingError: 0.2,
  delayWarningMs: 5 * 60_000,
  delayErrorMs: 10 * 60_000,
});

/** The level of a missing rate (0..1) and a delay. */
export function qualityLevel(missingRate: number, delayMs: number, t: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS): QualityLevel {
  if (missingRate > t.missingError || delayMs > t.delayErrorMs) return 'ERROR';
  if (missingRate > t.missingWarning || delayMs > t.delayWarningMs) return 'WARNING';
  return 'OK';
}

/** The worse of two levels. */
export function worseLevel(a: QualityLevel, b: QualityLevel): QualityLevel {
  return QUALITY_LEVELS.indexOf(a) >= QUALITY_LEVELS.indexOf(b) ? a : b;
}

export interface BarRejection {
  ts: number;
  reason: string;
}

export interface ScreenedBars {
  /** valid closed bars, ascending, one per ts */
  bars: Bar[];
  /** invalid bars skipped (bad numbers, misaligned, in the future, repeated) */
  invalid: number;
  /** bars outside every session, ignored */
  outsideSession: number;
  /** bars that had not closed yet, left for a later refresh */
  forming: number;
  /** the first few invalid bars and why */
  samples: BarRejection[];
}

export interface ScreenOptions {
  calendar: CalendarLike;
  timeframe: Timeframe;
  /** the data clock: bars closing after it are forming, bars opening after it are in the future */
  nowMs: number;
  /** samples kept (default 10) */
  maxSamples?: number;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/** Splits a provider's bars for one series into what may be stored and what may not; see the module comment. */
export function screenFeedBars(input: readonly Bar[], opts: ScreenOptions): ScreenedBars {
  const maxSamples = opts.maxSamples ?? 10;
  const out: ScreenedBars = { bars: [], invalid: 0, outsideSession: 0, forming: 0, samples: [] };
  const reject = (ts: number, reason: string) => {
    out.invalid++;
    if (out.samples.length < maxSamples) out.samples.push({ ts, reason });
  };
  const candidates: Bar[] = [];
  // Bars come in runs of one session: look a session up only when a bar leaves the last one (a lookup converts
  // time zones, the cost of screening a backfill otherwise).
  let last: TradingSession | null = null;
  const sessionOf = (ts: number) => (last !== null && last.open <= ts && ts < last.close ? last : (last = sessionFor(opts.calendar, ts)));
  for (const b of input) {
    if (!Number.isSafeInteger(b.ts)) {
      reject(b.ts, `time must be whole epoch ms, got ${b.ts}`);
      continue;
    }
    const why = validateBar(b.open, b.high, b.low, b.close, b.volume);
    if (why !== null) {
      reject(b.ts, why);
      continue;
    }
    if (b.ts > opts.nowMs) {
      reject(b.ts, `${iso(b.ts)} is in the future (now ${iso(opts.nowMs)})`);
      continue;
    }
    const session = sessionOf(b.ts);
    if (session === null) {
      out.outsideSession++;
      continue;
    }
    const own = calendarBarInSession(session, b.ts, opts.timeframe);
    if (own.open !== b.ts) {
      reject(b.ts, `${iso(b.ts)} is not where a ${opts.timeframe} bar opens (${iso(own.open)})`);
      continue;
    }
    if (own.close > opts.nowMs) {
      out.forming++;
      continue;
    }
    candidates.push(b);
  }
  candidates.sort((x, y) => x.ts - y.ts);
  for (const b of candidates) {
    if (out.bars.length > 0 && out.bars[out.bars.length - 1]!.ts === b.ts) reject(b.ts, `a second bar at ${iso(b.ts)}`);
    else out.bars.push(b);
  }
  return out;
}

/** Counts of one series over a period (a trading day, or one refresh), as the quality tables store them. */
export interface SeriesCounts {
  /** bars the calendar expects in the period (closed ones) */
  expected: number;
  /** of those, bars stored */
  received: number;
  invalid: number;
  gaps: number;
  /** the largest delay seen */
  maxDelayMs: number;
}

export interface SeriesQuality extends SeriesCounts {
  missingRate: number;
  /** share of expected bars received (1 when nothing was expected) */
  successRate: number;
  level: QualityLevel;
}

/** The level of a series from its counts. */
export function seriesQuality(c: SeriesCounts, t: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS): SeriesQuality {
  const received = Math.min(c.received, c.expected);
  const missingRate = c.expected === 0 ? 0 : (c.expected - received) / c.expected;
  return { ...c, missingRate, successRate: 1 - missingRate, level: qualityLevel(missingRate, c.maxDelayMs, t) };
}
