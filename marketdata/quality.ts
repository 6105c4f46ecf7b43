/**
 * Bar validation and data-quality levels (DESIGN.md "Data quality levels"). Pure: no I/O, no clock read.
 *
 * Validation rejects (and counts) bars that are invalid (domain/bars.ts validateBar: non-positive prices,
 * high < max(open, close), low > min(open, close), negative volume), not aligned to the timeframe, in the future
 * (open time after `nowMs`), or repeating an earlier bar's time.
 *
 * Alignment: bars up to 30m must open on a multiple of their length (epoch UTC: NYSE's 09:30 session open is one
 * for 1m..30m). Longer bars follow different conventions (Alpaca's hourly bars open on the hour, session-aligned
 * ones at :30; daily bars are stamped at midnight UTC, midnight New York or the session open), so 1h, 4h and 1d
 * bars must open on a 30-minute boundary.
 *
 * Quality, over the bars received for a range [fromMs, toMs] of open times:
 *  - expected bars: the calendar's bars (domain/calendar: intraday bars aligned to the session open, the last
 *    one ending at the close; '1d' = the session) opening in [fromMs, toMs] and closed by nowMs;
 *  - an expected bar counts as received when some received bar overlaps it in time, so the measure does not
 *    depend on the alignment convention; bars outside the sessions (extended hours) count for nothing;
 *  - missingRate = missing / expected (0 when nothing was expected);
 *  - delayMs = how far the data lags the calendar: the close of the last expected bar minus the close of the last
 *    received bar (0 when the data is complete up to now; overnight and on weekends this stays 0);
 *  - level: missingRate > 5% WARNING, > 20% ERROR; delay > 5 min WARNING, > 10 min ERROR; the worse one wins.
 * Calendar look-ups outside the calendar's years (XNYS: 2000..2035) fall back to a continuous grid of bars.
 */
import { validateBar, type Timeframe } from '../domain/bars';
import { currentOrNextSession, getCalendar, timeframeMs, type CalendarLike, type ExchangeCalendar } from '../domain/calendar/calendar';
import type { Bar } from './port';

export type QualityLevel = 'OK' | 'WARNING' | 'ERROR';

/** DESIGN.md thresholds: a value strictly above a threshold reaches its level. */
export const QUALITY_THRESHOLDS = Object.freeze({
  missingWarning: 0.05,
  missingError: 0.2,
  delayWarningMs: 5 * 60_000,
  delayErrorMs: 10 * 60_000,
});

const ALIGN_GRID_MS = 30 * 60_000;

export interface BarRejection {
  ts: number;
  reason: string;
}

export interface ValidatedBars {
  /** valid bars, ascending, one per ts */
  bars: Bar[];
  rejected: number;
  /** the first few rejections, for logs */
  rejections: BarRejection[];
}

export interface ValidateOptions {
  timeframe: Timeframe;
  /** bars opening after this are in the future */
  nowMs: number;
  /** rejection samples kept (default 20) */
  maxSamples?: number;
}

/** Whether a bar opening at `ts` is aligned to the timeframe (see the module comment). */
export function isAligned(ts: number, timeframe: Timeframe): boolean {
  const tf = timeframeMs(timeframe);
  const grid = tf <= ALIGN_GRID_MS ? tf : ALIGN_GRID_MS;
  return Number.isInteger(ts) && ((ts % grid) + grid) % grid === 0;
}

/** Splits incoming bars into valid ones (sorted, deduplicated) and counted rejects. */
export function validateBars(bars: readonly Bar[], opts: ValidateOptions): ValidatedBars {
  const maxSamples = opts.maxSamples ?? 20;
  const rejections: BarRejection[] = [];
  let rejected = 0;
  const reject = (ts: number, reason: string) => {
    rejected++;
    if (rejections.length < maxSamples) rejections.push({ ts, reason });
  };
  const candidates: Bar[] = [];
  for (const b of bars) {
    if (!Number.isFinite(b.ts)) {
      reject(b.ts, `time must be a finite epoch ms, got ${b.ts}`);
      continue;
    }
    const why = validateBar(b.open, b.high, b.low, b.close, b.volume);
    if (why !== null) reject(b.ts, why);
    else if (!isAligned(b.ts, opts.timeframe)) reject(b.ts, `${iso(b.ts)} is not aligned to ${opts.timeframe}`);
    else if (b.ts > opts.nowMs) reject(b.ts, `${iso(b.ts)} is in the future (now ${iso(opts.nowMs)})`);
    else candidates.push(b);
  }
  // stable sort: the first bar of a repeated time is kept
  const sorted = candidates.map((b, i) => ({ b, i })).sort((x, y) => x.b.ts - y.b.ts || x.i - y.i);
  const out: Bar[] = [];
  for (const { b } of sorted) {
    if (out.length > 0 && out[out.length - 1].ts === b.ts) reject(b.ts, `duplicate time ${iso(b.ts)}`);
    else out.push(b);
  }
  return { bars: out, rejected, rejections };
}

export interface QualityInput {
  /** open times of the valid bars received, ascending */
  ts: ArrayLike<number>;
  timeframe: Timeframe;
  /** the range asked for: inclusive bounds on bar open times */
  fromMs: number;
  toMs: number;
  /** the data clock: bars closing after it are not expected yet */
  nowMs: number;
  /** rejected bars, reported as is */
  rejected?: number;
  /** exchange calendar (default 'XNYS') */
  calendar?: CalendarLike;
}

export interface DataQuality {
  level: QualityLevel;
  /** 0..1 */
  missingRate: number;
  delayMs: number;
  rejected: number;
  /** bars the calendar expects in the range (closed by nowMs) */
  expected: number;
  /** of those, how many the data covers */
  received: number;
}

/** The DESIGN.md level of a missing rate and a delay. */
export function qualityLevel(missingRate: number, delayMs: number): QualityLevel {
  const t = QUALITY_THRESHOLDS;
  if (missingRate > t.missingError || delayMs > t.delayErrorMs) return 'ERROR';
  if (missingRate > t.missingWarning || delayMs > t.delayWarningMs) return 'WARNING';
  return 'OK';
}

/** Missing rate, delay and level of the bars received for a range (see the module comment). */
export function assessQuality(input: QualityInput): DataQuality {
  const { ts, timeframe, fromMs, toMs, nowMs } = input;
  const tf = timeframeMs(timeframe);
  // received open times inside the range
  const recv: number[] = [];
  for (let i = 0; i < ts.length; i++) if (ts[i] >= fromMs && ts[i] <= toMs) recv.push(ts[i]);

  let expected = 0;
  let covered = 0;
  let firstOpen = Number.NaN;
  let lastClose = Number.NaN;
  let j = 0;
  const visit = (open: number, close: number) => {
    expected++;
    if (expected === 1) firstOpen = open;
    lastClose = close;
    while (j < recv.length && recv[j] + tf <= open) j++;
    if (j < recv.length && recv[j] < close) covered++;
  };
  const reset = () => {
    expected = covered = j = 0;
    firstOpen = lastClose = Number.NaN;
  };
  try {
    forEachCalendarBar(getCalendar(input.calendar ?? 'XNYS'), timeframe, fromMs, toMs, nowMs, visit);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    reset();
    forEachGridBar(tf, fromMs, toMs, nowMs, visit);
  }

  const missingRate = expected === 0 ? 0 : (expected - covered) / expected;
  let delayMs = 0;
  if (expected > 0) {
    const lastReceivedClose = recv.length > 0 ? recv[recv.length - 1] + tf : firstOpen;
    delayMs = Math.max(0, lastClose - lastReceivedClose);
  }
  return { level: qualityLevel(missingRate, delayMs), missingRate, delayMs, rejected: input.rejected ?? 0, expected, received: covered };
}

/** Calls fn(open, close) for each calendar bar with fromMs <= open <= toMs and close <= nowMs, in order. */
function forEachCalendarBar(
  cal: ExchangeCalendar,
  timeframe: Timeframe,
  fromMs: number,
  toMs: number,
  nowMs: number,
  fn: (open: number, close: number) => void,
): void {
  if (toMs < fromMs) return;
  const tf = timeframeMs(timeframe);
  const daily = timeframe === '1d';
  let s = currentOrNextSession(cal, fromMs); // the first session that has not closed at fromMs
  while (s.open <= toMs) {
    if (daily) {
      if (s.close > nowMs) return;
      if (s.open >= fromMs) fn(s.open, s.close);
    } else {
      for (let open = s.open; open < s.close && open <= toMs; open += tf) {
        const close = Math.min(open + tf, s.close);
        if (close > nowMs) return;
        if (open >= fromMs) fn(open, close);
      }
    }
    s = currentOrNextSession(cal, s.close);
  }
}

/** The fallback: a continuous grid of bars aligned to the epoch (UTC midnight for '1d'). */
function forEachGridBar(tf: number, fromMs: number, toMs: number, nowMs: number, fn: (open: number, close: number) => void): void {
  for (let open = Math.ceil(fromMs / tf) * tf; open <= toMs && open + tf <= nowMs; open += tf) fn(open, open + tf);
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));
