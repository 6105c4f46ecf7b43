import { z } from 'zod';
import { getCalendar, localDate, nextSessionOpen, sessionOn, type CalendarLike } from '../calendar/calendar';
import { ZoneConverter } from '../time/zone';
import { MINUTE_MS, parseLocalDate, toIsoDate } from '../time/dates';

/**
 * End-of-day liquidation times (DESIGN.md "end-of-day liquidation"). At the session's close minus a margin the scope
 * becomes reduce-only, open orders are cancelled and every position is closed; the broker must show it flat by the
 * close minus FLAT_BY_MINUTES, and entries are allowed again at the next session's open. Holidays have no session,
 * so no liquidation; early closes (13:00 ET) move every time with the close. Pure: callers pass the instants.
 */

export const DEFAULT_EOD_MARGIN_MINUTES = 5;
/** The broker must show the scope flat this long before the close, else a critical alert. */
export const FLAT_BY_MINUTES = 1;
export const MIN_EOD_MARGIN_MINUTES = FLAT_BY_MINUTES + 1;
export const MAX_EOD_MARGIN_MINUTES = 120;

export const EodMarginSchema = z
  .int({ error: 'marginMinutes must be a whole number of minutes' })
  .min(MIN_EOD_MARGIN_MINUTES, { error: `marginMinutes must be at least ${MIN_EOD_MARGIN_MINUTES} (the broker must be flat ${FLAT_BY_MINUTES} minute before the close)` })
  .max(MAX_EOD_MARGIN_MINUTES, { error: `marginMinutes must be at most ${MAX_EOD_MARGIN_MINUTES}` });

/** A deployment's end-of-day policy: `{ "eod": { "marginMinutes": 5 } }` in its spec (absent: held overnight). */
export const EodPolicySchema = z.strictObject({ marginMinutes: EodMarginSchema.default(DEFAULT_EOD_MARGIN_MINUTES) }, { error: 'eod must be an object such as { "marginMinutes": 5 }' });

/**
 * The lease of a symbol lock (db/sql/symbol-locks.ts): renewed at every sync of its holder, so only a holder that
 * stopped syncing for this long (or stopped or failed) loses it to the next taker.
 */
export const SYMBOL_LOCK_TTL_MS = 24 * 60 * 60_000;

/** The instants of one day's liquidation, epoch ms of the exchange's (data) time. */
export interface EodWindow {
  /** YYYY-MM-DD, the exchange's local date of the session */
  date: string;
  openMs: number;
  closeMs: number;
  earlyClose: boolean;
  /** reduce-only from here: no new entries, cancel, close */
  reduceOnlyAtMs: number;
  /** the broker must show the scope flat by here */
  flatByMs: number;
  /** entries are allowed again here: the next session's open */
  liftsAtMs: number;
}

/** The scheduled liquidation of the session on `date`, or null when no session opens that day (weekend, holiday). */
export function eodWindow(cal: CalendarLike, date: string | number, marginMinutes: number): EodWindow | null {
  const s = sessionOn(cal, date);
  if (!s) return null;
  const reduceOnlyAtMs = Math.max(s.open, s.close - marginMinutes * MINUTE_MS);
  return {
    date: toIsoDate(parseLocalDate(s.date)),
    openMs: s.open,
    closeMs: s.close,
    earlyClose: s.earlyClose,
    reduceOnlyAtMs,
    flatByMs: Math.max(reduceOnlyAtMs, s.close - FLAT_BY_MINUTES * MINUTE_MS),
    liftsAtMs: nextSessionOpen(cal, s.close),
  };
}

/**
 * A liquidation asked for by hand at `nowMs`: reduce-only at once, flat within the margin's time (margin - 1 minutes,
 * as a scheduled one has), lifted at the next session's open. Its day is the exchange's local date of `nowMs`; null
 * when no session opens that day.
 */
export function manualEodWindow(cal: CalendarLike, nowMs: number, marginMinutes: number): EodWindow | null {
  const w = eodWindow(cal, localDate(cal, nowMs), marginMinutes);
  if (!w) return null;
  return { ...w, reduceOnlyAtMs: nowMs, flatByMs: nowMs + (marginMinutes - FLAT_BY_MINUTES) * MINUTE_MS, liftsAtMs: nextSessionOpen(cal, Math.max(nowMs, w.openMs)) };
}

/** The exchange's local date of an instant as YYYY-MM-DD. */
export function exchangeDate(cal: CalendarLike, tsMs: number): string {
  return toIsoDate(parseLocalDate(localDate(cal, tsMs)));
}

/** The liquidation workflow's id: one per account and trading day, so two triggers make one liquidation. */
export function liquidationWorkflowId(accountId: string, date: string): string {
  return `eod-${accountId}-${date}`;
}

const zones = new Map<string, ZoneConverter>();

/** An instant as the exchange's wall time, 'YYYY-MM-DD HH:MM' (for summaries in the Temporal UI and in alerts). */
export function exchangeTime(cal: CalendarLike, tsMs: number): string {
  const tz = getCalendar(cal).timeZone;
  const zone = zones.get(tz) ?? zones.set(tz, new ZoneConverter(tz)).get(tz)!;
  const local = new Date(tsMs + zone.offsetAt(tsMs)).toISOString();
  return `${local.slice(0, 10)} ${local.slice(11, 16)}`;
}
