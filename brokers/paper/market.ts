/**
 * The paper broker's market clock and NYSE calendar, rendered the way Alpaca's GET /v2/clock and
 * GET /v2/calendar render them: instants with the exchange's UTC offset ("2026-11-27T13:00:00-05:00"),
 * calendar times as "HH:MM" and extended-session times as "HHMM" in New York time.
 *
 * The clock is the wall clock unless one is set (see migration 0008): frozen at an instant, or running from
 * one. It is only the MARKET clock (what /v2/clock says, which trading day a price belongs to): orders,
 * fills and their timestamps keep the wall clock, and orders are not refused or queued outside market hours.
 */
import { currentOrNextSession, isOpen, localDate, nextSessionOpen, parseLocalDate, sessionOn, settlementDate, toIsoDate, toYmd, XNYS } from '../../domain/calendar';
import { ZoneConverter } from '../../domain/time/zone';

export interface ClockSetting {
  clockAt: Date | null;
  setAt: Date | null;
  running: boolean;
}

export type ClockMode = 'wall' | 'frozen' | 'running';

export function clockMode(s: ClockSetting): ClockMode {
  return s.clockAt === null ? 'wall' : s.running ? 'running' : 'frozen';
}

/** The market clock's reading at wall time `wallMs`. */
export function marketNow(s: ClockSetting, wallMs: number): number {
  if (s.clockAt === null) return wallMs;
  if (!s.running || s.setAt === null) return s.clockAt.getTime();
  return s.clockAt.getTime() + (wallMs - s.setAt.getTime());
}

const NEW_YORK = new ZoneConverter(XNYS.timeZone);
const FIRST_DAY = parseLocalDate(XNYS.firstDate);
const LAST_DAY = parseLocalDate(XNYS.lastDate);
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** An instant as New York local time with its offset, e.g. "2026-11-27T13:00:00-05:00" (with 9 fractional digits when asked). */
export function formatNewYork(ms: number, fraction = false): string {
  const offset = NEW_YORK.offsetAt(ms);
  const local = new Date(ms + offset).toISOString(); // local wall time written as if UTC
  const abs = Math.abs(offset) / 60_000;
  const sign = offset < 0 ? '-' : '+';
  const frac = fraction ? `.${local.slice(20, 23)}000000` : '';
  return `${local.slice(0, 19)}${frac}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Alpaca's GET /v2/clock body at market time `nowMs` (NYSE). */
export function clockJson(nowMs: number): { timestamp: string; is_open: boolean; next_open: string; next_close: string } {
  return {
    timestamp: formatNewYork(nowMs, true),
    is_open: isOpen(XNYS, nowMs),
    next_open: formatNewYork(nextSessionOpen(XNYS, nowMs)),
    next_close: formatNewYork(currentOrNextSession(XNYS, nowMs).close),
  };
}

/**
 * The trading day (YYYYMMDD) a price at `nowMs` belongs to: that of the latest session that has opened. null
 * outside the calendar's years (a replay of 1990s bars): such prices never roll lastday_price.
 */
export function tradingDateAt(nowMs: number): number | null {
  const today = parseLocalDate(localDate(XNYS, nowMs));
  for (let k = 0; k < 15; k++) {
    const day = today - k;
    if (day < FIRST_DAY || day > LAST_DAY) return null;
    const s = sessionOn(XNYS, toYmd(day));
    if (s !== null && s.open <= nowMs) return s.date;
  }
  return null;
}

export interface AlpacaCalendarDayJson {
  date: string;
  open: string;
  close: string;
  session_open: string;
  session_close: string;
  settlement_date: string;
}

const hhmm = (minutes: number, sep: string) => `${pad(Math.floor(minutes / 60))}${sep}${pad(minutes % 60)}`;
/** extended hours: pre-market from 04:00; post-market until 20:00, or 17:00 after a 13:00 early close */
const SESSION_OPEN = 4 * 60;
const sessionClose = (close: number) => close + 4 * 60;

/** One trading day, or null on weekends and holidays. */
export function calendarDay(day: number): AlpacaCalendarDayJson | null {
  if (day < FIRST_DAY || day > LAST_DAY) return null;
  const h = XNYS.hours(day);
  if (h === null) return null;
  return {
    date: toIsoDate(day),
    open: hhmm(h.open, ':'),
    close: hhmm(h.close, ':'),
    session_open: hhmm(SESSION_OPEN, ''),
    session_close: hhmm(sessionClose(h.close), ''),
    settlement_date: toIsoDate(parseLocalDate(settlementDate(toYmd(day)))),
  };
}

/**
 * Alpaca's GET /v2/calendar: trading days from `start` to `end` (day numbers, inclusive), or with
 * dateType SETTLEMENT the trading days whose settlement date lies in that range. Outside the calendar's
 * years (2000..2035) there are no days.
 */
export function calendarJson(start: number, end: number, dateType: 'TRADING' | 'SETTLEMENT'): AlpacaCalendarDayJson[] {
  const out: AlpacaCalendarDayJson[] = [];
  const from = Math.max(start - (dateType === 'SETTLEMENT' ? 10 : 0), FIRST_DAY);
  const to = Math.min(end, LAST_DAY);
  for (let d = from; d <= to; d++) {
    const day = calendarDay(d);
    if (day === null) continue;
    const key = parseLocalDate(dateType === 'SETTLEMENT' ? day.settlement_date : day.date);
    if (key >= start && key <= end) out.push(day);
  }
  return out;
}

export const CALENDAR_FIRST_DAY = FIRST_DAY;
export const CALENDAR_LAST_DAY = LAST_DAY;
