/**
 * Gaps in a stored series: calendar bars missing between the last stored bar and a new one. Pure.
 */
import type { Timeframe } from '../bars';
import { timeframeMs, type CalendarLike } from '../calendar/calendar';
import { forEachCalendarBar, nextCalendarBar } from './calendar-bars';

/** Calendar bars missing from a series: opens from `fromMs` to `toMs`, both inclusive. */
export interface Gap {
  fromMs: number;
  toMs: number;
  bars: number;
}

/**
 * The calendar bars strictly between the last stored bar and a new bar (both opens), or null when the new bar follows
 * the stored one (nothing is missing) or comes before it.
 */
export function gapBetween(cal: CalendarLike, timeframe: Timeframe, lastStoredOpen: number, newOpen: number): Gap | null {
  if (newOpen <= lastStoredOpen) return null;
  const first = nextCalendarBar(cal, lastStoredOpen, timeframe);
  if (first.open >= newOpen) return null;
  let bars = 0;
  let last = first.open;
  forEachCalendarBar(cal, timeframe, first.open, newOpen - 1, (b) => {
    bars++;
    last = b.open;
  });
  return { fromMs: first.open, toMs: last, bars };
}

/**
 * The open of the calendar bar `n` bars before the one opening at `open` (n = 0: `open` itself), for a new series'
 * warm-up. Looks back in growing steps, so it costs a few passes over about n bars.
 */
export function openBarsBefore(cal: CalendarLike, timeframe: Timeframe, open: number, n: number): number {
  if (n <= 0) return open;
  // Sessions cover a fraction of the week (NYSE: 32.5 of 168 hours), so look back generously and widen until enough.
  let span = Math.max(timeframeMs(timeframe) * n * 6, 7 * 86_400_000);
  for (let tries = 0; tries < 30; tries++) {
    const opens: number[] = [];
    forEachCalendarBar(cal, timeframe, open - span, open - 1, (b) => {
      opens.push(b.open);
    });
    if (opens.length >= n) return opens[opens.length - n]!;
    span *= 2;
  }
  throw new RangeError(`fewer than ${n} ${timeframe} bars before ${new Date(open).toISOString()} on this calendar`);
}
