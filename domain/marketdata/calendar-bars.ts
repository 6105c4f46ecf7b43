/**
 * The bars an exchange calendar expects: where each bar of a timeframe opens and closes. Intraday bars are aligned
 * to the session open and the last one ends at the close (shorter on early closes, or when the timeframe does not
 * divide the session); a '1d' bar is the session, and so is any bar longer than the session (an 8h bar of NYSE).
 * Pure: no clock, no I/O (workflow code may import it).
 */
import type { Timeframe } from '../bars';
import { currentOrNextSession, sessionFor, timeframeMs, type CalendarLike, type TradingSession } from '../calendar/calendar';

export interface CalendarBar {
  /** epoch ms, the bar's `ts` */
  open: number;
  close: number;
}

function barIn(s: TradingSession, tsMs: number, tf: number, daily: boolean): CalendarBar {
  if (daily) return { open: s.open, close: s.close };
  const open = s.open + Math.floor((tsMs - s.open) / tf) * tf;
  return { open, close: Math.min(open + tf, s.close) };
}

/** The bar of `timeframe` in session `s` that contains tsMs (s.open <= tsMs < s.close). */
export function calendarBarInSession(s: TradingSession, tsMs: number, timeframe: Timeframe): CalendarBar {
  return barIn(s, tsMs, timeframeMs(timeframe), timeframe === '1d');
}

/** The calendar bar of `timeframe` that contains the instant tsMs, or null outside every session. */
export function calendarBarAt(cal: CalendarLike, tsMs: number, timeframe: Timeframe): CalendarBar | null {
  const s = sessionFor(cal, tsMs);
  return s === null ? null : barIn(s, tsMs, timeframeMs(timeframe), timeframe === '1d');
}

/**
 * Calls fn for each calendar bar with fromMs <= open <= toMs, in order; stops early when fn returns false. Linear
 * in the bars visited (a million 1m bars take well under a second).
 */
export function forEachCalendarBar(cal: CalendarLike, timeframe: Timeframe, fromMs: number, toMs: number, fn: (bar: CalendarBar) => boolean | void): void {
  if (!(toMs >= fromMs)) return;
  const tf = timeframeMs(timeframe);
  const daily = timeframe === '1d';
  let s = currentOrNextSession(cal, fromMs);
  while (s.open <= toMs) {
    let open = fromMs > s.open ? barIn(s, fromMs, tf, daily).open : s.open;
    if (open < fromMs) open += tf; // fromMs inside a bar: that bar opened before the range
    for (; open < s.close && open <= toMs; open += daily ? s.close - s.open : tf) {
      if (fn({ open, close: daily ? s.close : Math.min(open + tf, s.close) }) === false) return;
    }
    s = currentOrNextSession(cal, s.close);
  }
}

/** Every calendar bar with fromMs <= open <= toMs (at most `limit`, the earliest). */
export function calendarBars(cal: CalendarLike, timeframe: Timeframe, fromMs: number, toMs: number, limit = Number.POSITIVE_INFINITY): CalendarBar[] {
  const out: CalendarBar[] = [];
  forEachCalendarBar(cal, timeframe, fromMs, toMs, (b) => {
    out.push(b);
    return out.length < limit;
  });
  return out;
}

/** How many calendar bars open in [fromMs, toMs]. */
export function countCalendarBars(cal: CalendarLike, timeframe: Timeframe, fromMs: number, toMs: number): number {
  let n = 0;
  forEachCalendarBar(cal, timeframe, fromMs, toMs, () => {
    n++;
  });
  return n;
}

/** The calendar bar that opens right after the one opening at `open` (the next session's first bar after a close). */
export function nextCalendarBar(cal: CalendarLike, open: number, timeframe: Timeframe): CalendarBar {
  let next: CalendarBar | undefined;
  forEachCalendarBar(cal, timeframe, open + 1, Number.MAX_SAFE_INTEGER, (b) => {
    next = b;
    return false;
  });
  return next!;
}

/**
 * The calendar bar that closes at `closeMs` (a bar close of the calendar: what nextBarClose returns), or null when
 * no bar closes there.
 */
export function calendarBarClosingAt(cal: CalendarLike, closeMs: number, timeframe: Timeframe): CalendarBar | null {
  const b = calendarBarAt(cal, closeMs - 1, timeframe);
  return b !== null && b.close === closeMs ? b : null;
}
