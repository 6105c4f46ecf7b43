/**
 * Higher timeframes from lower ones, following the exchange session: a target bar is a calendar bar (aligned to the
 * session open, cut at the close; see calendar-bars.ts), so a NYSE 1h bar runs 09:30-10:30 and its last one
 * 15:30-16:00, and an 8h bar of NYSE is the whole session, never 8 wall hours. Its open is the first base bar's open,
 * its high and low the extremes, its close the last base bar's close, its volume the sum.
 *
 * Base bars outside every session (extended hours) are left out, and so are base bars that straddle a target
 * boundary (a clock-aligned 1h bar against a 09:30 session): both are counted. A target bar is emitted only once it
 * has closed (`closedBy`), so a live refresh never stores a forming candle. Pure.
 */
import { timeframeMs, type CalendarLike } from '../calendar/calendar';
import type { Bar, Timeframe } from '../bars';
import { calendarBarAt } from './calendar-bars';

export interface AggregateOptions {
  calendar: CalendarLike;
  /** the timeframe of the input bars */
  from: Timeframe;
  to: Timeframe;
  /** emit only target bars that closed at or before this instant (default: all) */
  closedBy?: number;
  /**
   * emit a target bar only when its last base bar (the one closing with it) is there: live, a late base bar would
   * otherwise make a short candle that is stored for good (default false: history may lack a quiet last interval)
   */
  requireClosingBase?: boolean;
}

export interface Aggregated {
  /** ascending, one per target bar that had at least one base bar */
  bars: Bar[];
  /** base bars outside every session */
  outsideSession: number;
  /** base bars that do not fit inside one target bar */
  misaligned: number;
  /** target bars left out because they had not closed by `closedBy`, or lacked their closing base bar */
  forming: number;
}

/** Aggregates base bars (ascending by ts) into bars of `to`; see the module comment. */
export function aggregateBars(base: readonly Bar[], opts: AggregateOptions): Aggregated {
  if (timeframeMs(opts.to) < timeframeMs(opts.from)) throw new RangeError(`cannot aggregate ${opts.from} bars into shorter ${opts.to} bars`);
  const closedBy = opts.closedBy ?? Number.POSITIVE_INFINITY;
  const out: Bar[] = [];
  let outsideSession = 0;
  let misaligned = 0;
  let forming = 0;
  let cur: Bar | null = null;
  let curClose = 0;
  let lastBaseClose = 0;
  const flush = () => {
    if (cur === null) return;
    if (curClose <= closedBy && (!opts.requireClosingBase || lastBaseClose === curClose)) out.push(cur);
    else forming++;
    cur = null;
  };
  for (const b of base) {
    const target = calendarBarAt(opts.calendar, b.ts, opts.to);
    if (target === null) {
      outsideSession++;
      continue;
    }
    const own = calendarBarAt(opts.calendar, b.ts, opts.from);
    if (own === null || own.open !== b.ts || own.close > target.close) {
      misaligned++;
      continue;
    }
    if (cur !== null && cur.ts === target.open) {
      cur.high = Math.max(cur.high, b.high);
      cur.low = Math.min(cur.low, b.low);
      cur.close = b.close;
      cur.volume += b.volume;
      lastBaseClose = own.close;
      continue;
    }
    flush();
    lastBaseClose = own.close;
    cur = { ts: target.open, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume };
    curClose = target.close;
  }
  flush();
  return { bars: out, outsideSession, misaligned, forming };
}

/** The range of base-bar opens (inclusive) that makes up the target bars opening in [fromMs, toMs]. */
export function baseRangeFor(calendar: CalendarLike, to: Timeframe, fromMs: number, toMs: number): { fromMs: number; toMs: number } {
  const last = calendarBarAt(calendar, toMs, to);
  return { fromMs, toMs: last === null ? toMs : Math.max(toMs, last.close - 1) };
}
