import { z } from 'zod';
import type { Timeframe } from '../bars';
import { ZoneConverter } from '../time/zone';
import { civil, DAY_MS, MINUTE_MS, parseLocalDate, toYmd, weekday, type LocalDate } from '../time/dates';
import { nyseHours, XNYS_FIRST_YEAR, XNYS_LAST_YEAR } from './nyse';

/**
 * Exchange calendars: when a market trades, and where bars close.
 *
 * A calendar gives, for each local date, the hours of the session that opens on that date (or none). All
 * instants are epoch milliseconds UTC; local wall times are converted with Intl (via ZoneConverter in
 * ../time/zone.ts), so DST changes are handled by the host's time-zone database. No clock is read: every function
 * takes the instant it reasons about. Safe in Temporal's workflow sandbox (Intl for the zones, no clock).
 *
 * Conventions:
 *  - a session is the half-open interval [open, close): `sessionFor(t)` is the session with open <= t < close;
 *  - a bar close c belongs to a session when open < c <= close; intraday bars are aligned to the session open
 *    (09:30, 09:31, ... for 1m; 09:30-10:30, ... 15:30-16:00 for 1h) and the last bar of a session ends at the
 *    close even when that makes it shorter (early closes, 1h bars); a '1d' bar is the whole session;
 *  - a session belongs to the local date it opens on (overnight sessions of simple calendars end the next day).
 */

export const TIMEFRAME_MS: Readonly<Record<Timeframe, number>> = Object.freeze({
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  /** on a session shorter than 8 hours (NYSE) an 8h bar is the whole session */
  '8h': 28_800_000,
  '1d': DAY_MS,
});

/** Milliseconds of a timeframe; throws for an unknown one. */
export function timeframeMs(timeframe: Timeframe): number {
  const ms = Object.prototype.hasOwnProperty.call(TIMEFRAME_MS, timeframe) ? TIMEFRAME_MS[timeframe] : undefined;
  if (ms === undefined) throw new RangeError(`unknown timeframe "${String(timeframe)}"; expected one of: ${Object.keys(TIMEFRAME_MS).join(', ')}`);
  return ms;
}

/** Hours of one session in minutes after local midnight of its date; close in (open, open + 1440]. */
export interface DayHours {
  open: number;
  close: number;
  earlyClose?: boolean;
}

export interface ExchangeCalendar {
  /** 'XNYS', '24x7' or a custom id */
  readonly id: string;
  /** IANA time zone the hours are given in */
  readonly timeZone: string;
  /** first and last local dates (YYYYMMDD) the calendar knows; queries beyond them throw a RangeError */
  readonly firstDate: number;
  readonly lastDate: number;
  /** hours of the session opening on the local date `day` (a day number, see ./dates.ts), or null if none */
  hours(day: number): DayHours | null;
}

export interface TradingSession {
  /** the local date the session opens on, YYYYMMDD */
  date: number;
  /** epoch ms UTC */
  open: number;
  /** epoch ms UTC */
  close: number;
  earlyClose: boolean;
}

export const CALENDAR_IDS = ['XNYS', '24x7'] as const;
export type CalendarId = (typeof CALENDAR_IDS)[number];

/** NYSE: 09:30-16:00 America/New_York, holidays and 13:00 early closes of 2000..2035 (see ./nyse.ts). */
export const XNYS: ExchangeCalendar = Object.freeze({
  id: 'XNYS',
  timeZone: 'America/New_York',
  firstDate: XNYS_FIRST_YEAR * 10_000 + 101,
  lastDate: XNYS_LAST_YEAR * 10_000 + 1231,
  hours: (day: number) => nyseHours(day, civil(day).year),
});

const WHOLE_DAY: DayHours = Object.freeze({ open: 0, close: 24 * 60 });

/** Always open (crypto): one session per UTC day, 00:00-24:00; '1d' bars close at midnight UTC. */
export const CRYPTO_24X7: ExchangeCalendar = Object.freeze({
  id: '24x7',
  timeZone: 'UTC',
  firstDate: 19700101,
  lastDate: 99991231,
  hours: () => WHOLE_DAY,
});

// ------------------------------------------------------------------------------------------------ simple calendars

const WEEKDAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const hhmm = (what: string, allow24: boolean) =>
  z
    .string({ error: `${what} must be a time HH:MM` })
    .regex(allow24 ? /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/ : /^([01]\d|2[0-3]):[0-5]\d$/, { error: `${what} must be a time HH:MM (00:00..${allow24 ? '24:00' : '23:59'})` });

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * A calendar with the same hours on given weekdays: `{ timeZone, open: 'HH:MM', close: 'HH:MM', weekdays }`.
 * weekdays: 0 = Sunday .. 6 = Saturday, or 'sun'..'sat'. A close at or before the open ends the next day
 * (an overnight session, e.g. 18:00-17:00); open = close is a 24-hour session. Optional `holidays`
 * ('YYYY-MM-DD' local dates without a session) and `id`.
 */
export const SimpleCalendarConfigSchema = z.strictObject({
  id: z.string().min(1).max(64).default('custom'),
  timeZone: z.string().refine(validTimeZone, { error: 'timeZone must be an IANA time zone such as America/New_York' }),
  open: hhmm('open', false),
  close: hhmm('close', true),
  weekdays: z
    .array(z.union([z.int().min(0).max(6), z.enum(WEEKDAY_NAMES)]), { error: 'weekdays must be a list of 0..6 (0 = Sunday) or sun..sat' })
    .min(1, { error: 'weekdays must name at least one day' })
    .transform((days) => [...new Set(days.map((d) => (typeof d === 'number' ? d : WEEKDAY_NAMES.indexOf(d))))].sort((a, b) => a - b)),
  holidays: z
    .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'holidays must be dates YYYY-MM-DD' }))
    .default([])
    .refine((days) => days.every((d) => isDate(d)), { error: 'holidays must be real dates YYYY-MM-DD' }),
});
export type SimpleCalendarConfig = z.input<typeof SimpleCalendarConfigSchema>;

function isDate(s: string): boolean {
  try {
    parseLocalDate(s);
    return true;
  } catch {
    return false;
  }
}

function minutesOf(s: string): number {
  return Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
}

/** Builds a calendar from a SimpleCalendarConfig (validated; throws a ZodError). */
export function simpleCalendar(config: SimpleCalendarConfig): ExchangeCalendar {
  const c = SimpleCalendarConfigSchema.parse(config);
  const open = minutesOf(c.open);
  let close = minutesOf(c.close);
  if (close <= open) close += 24 * 60;
  const hours: DayHours = Object.freeze({ open, close });
  const days = new Set(c.weekdays);
  const holidays = new Set(c.holidays.map(parseLocalDate));
  return Object.freeze({
    id: c.id,
    timeZone: c.timeZone,
    firstDate: 19700101,
    lastDate: 99991231,
    hours: (day: number) => (days.has(weekday(day)) && !holidays.has(day) ? hours : null),
  });
}

/** A calendar, by id, from a simple config, or as is. */
export type CalendarLike = ExchangeCalendar | CalendarId | SimpleCalendarConfig;

export function getCalendar(cal: CalendarLike): ExchangeCalendar {
  if (cal === 'XNYS') return XNYS;
  if (cal === '24x7') return CRYPTO_24X7;
  if (typeof cal === 'string') throw new RangeError(`unknown calendar "${cal}"; expected one of: ${CALENDAR_IDS.join(', ')}`);
  if (typeof (cal as ExchangeCalendar).hours === 'function') return cal as ExchangeCalendar;
  return simpleCalendar(cal as SimpleCalendarConfig);
}

// ------------------------------------------------------------------------------------------------ sessions

interface Runtime {
  cal: ExchangeCalendar;
  zone: ZoneConverter;
  firstDay: number;
  lastDay: number;
  sessions: Map<number, TradingSession | null>;
}

const runtimes = new WeakMap<ExchangeCalendar, Runtime>();
const MAX_CACHED_SESSIONS = 50_000;
/** how far the searches look ahead for a session before giving up */
const SEARCH_DAYS = 400;

function runtime(like: CalendarLike): Runtime {
  const cal = getCalendar(like);
  let rt = runtimes.get(cal);
  if (rt === undefined) {
    rt = { cal, zone: new ZoneConverter(cal.timeZone), firstDay: parseLocalDate(cal.firstDate), lastDay: parseLocalDate(cal.lastDate), sessions: new Map() };
    runtimes.set(cal, rt);
  }
  return rt;
}

function outOfRange(rt: Runtime, what: string): RangeError {
  return new RangeError(`${what} lies outside the ${rt.cal.id} calendar (${rt.cal.firstDate}..${rt.cal.lastDate})`);
}

/** The session opening on day number `day`, or null; throws outside the calendar's range. */
function session(rt: Runtime, day: number): TradingSession | null {
  const cached = rt.sessions.get(day);
  if (cached !== undefined) return cached;
  if (day < rt.firstDay || day > rt.lastDay) throw outOfRange(rt, `date ${toYmd(day)}`);
  const h = rt.cal.hours(day);
  let s: TradingSession | null = null;
  if (h !== null) {
    const midnight = day * DAY_MS; // local midnight written as if UTC
    s = Object.freeze({
      date: toYmd(day),
      open: rt.zone.toUtc(midnight + h.open * MINUTE_MS),
      close: rt.zone.toUtc(midnight + h.close * MINUTE_MS),
      earlyClose: h.earlyClose === true,
    });
  }
  if (rt.sessions.size >= MAX_CACHED_SESSIONS) rt.sessions.clear();
  rt.sessions.set(day, s);
  return s;
}

/** like session(), but null for days outside the range (for looking at neighbours) */
function sessionIfKnown(rt: Runtime, day: number): TradingSession | null {
  return day < rt.firstDay || day > rt.lastDay ? null : session(rt, day);
}

function checkTs(tsMs: number, what = 'tsMs'): void {
  if (!Number.isFinite(tsMs)) throw new RangeError(`${what} must be a finite epoch ms, got ${tsMs}`);
}

/** Day number of the local date of an instant in the calendar's time zone. */
function localDay(rt: Runtime, tsMs: number): number {
  return Math.floor((tsMs + rt.zone.offsetAt(tsMs)) / DAY_MS);
}

/** The local date (YYYYMMDD, in the calendar's time zone) of an instant. */
export function localDate(cal: CalendarLike, tsMs: number): number {
  checkTs(tsMs);
  return toYmd(localDay(runtime(cal), tsMs));
}

/** Whether a session opens on the local date. */
export function isTradingDay(cal: CalendarLike, date: LocalDate): boolean {
  return session(runtime(cal), parseLocalDate(date)) !== null;
}

/** The session opening on a local date, or null (weekend, holiday). */
export function sessionOn(cal: CalendarLike, date: LocalDate): TradingSession | null {
  return session(runtime(cal), parseLocalDate(date));
}

/** Trading days (YYYYMMDD) from `from` to `to`, both inclusive. */
export function tradingDays(cal: CalendarLike, from: LocalDate, to: LocalDate): number[] {
  const rt = runtime(cal);
  const out: number[] = [];
  for (let d = parseLocalDate(from), end = parseLocalDate(to); d <= end; d++) {
    const s = session(rt, d);
    if (s !== null) out.push(s.date);
  }
  return out;
}

/** The session in progress at tsMs (open <= tsMs < close), or null when the market is closed. */
export function sessionFor(cal: CalendarLike, tsMs: number): TradingSession | null {
  checkTs(tsMs);
  const rt = runtime(cal);
  const d = localDay(rt, tsMs);
  const today = session(rt, d);
  if (today !== null && today.open <= tsMs && tsMs < today.close) return today;
  const yesterday = sessionIfKnown(rt, d - 1); // an overnight session
  if (yesterday !== null && yesterday.open <= tsMs && tsMs < yesterday.close) return yesterday;
  return null;
}

/** Whether the market is open at tsMs. */
export function isOpen(cal: CalendarLike, tsMs: number): boolean {
  return sessionFor(cal, tsMs) !== null;
}

/** The first session that has not closed at tsMs (close > tsMs): the one in progress or the next one. */
export function currentOrNextSession(cal: CalendarLike, tsMs: number): TradingSession {
  checkTs(tsMs);
  const rt = runtime(cal);
  const d = localDay(rt, tsMs);
  for (let k = -1; k <= SEARCH_DAYS; k++) {
    const s = k < 0 ? sessionIfKnown(rt, d + k) : session(rt, d + k);
    if (s !== null && s.close > tsMs) return s;
  }
  throw new RangeError(`${rt.cal.id}: no session within ${SEARCH_DAYS} days after ${new Date(tsMs).toISOString()}`);
}

/** The first session open strictly after tsMs (during a session: the next session's open). */
export function nextSessionOpen(cal: CalendarLike, tsMs: number): number {
  checkTs(tsMs);
  const rt = runtime(cal);
  const d = localDay(rt, tsMs);
  for (let k = 0; k <= SEARCH_DAYS; k++) {
    const s = session(rt, d + k);
    if (s !== null && s.open > tsMs) return s.open;
  }
  throw new RangeError(`${rt.cal.id}: no session opens within ${SEARCH_DAYS} days after ${new Date(tsMs).toISOString()}`);
}

/** The first bar close of a session strictly after tsMs (tsMs < session.close). */
function closeAfter(s: TradingSession, tsMs: number, tf: number, daily: boolean): number {
  if (daily) return s.close;
  const k = tsMs < s.open ? 1 : Math.floor((tsMs - s.open) / tf) + 1;
  const c = s.open + k * tf;
  return c < s.close ? c : s.close;
}

/**
 * The next bar close strictly after tsMs that lies in a session: for '1d' the session's close; intraday bars are
 * aligned to the session open and the last bar of a session ends at its close (shorter on early-close days or
 * when the timeframe does not divide the session).
 */
export function nextBarClose(cal: CalendarLike, tsMs: number, timeframe: Timeframe): number {
  const tf = timeframeMs(timeframe);
  return closeAfter(currentOrNextSession(cal, tsMs), tsMs, tf, timeframe === '1d');
}

/** Every bar close of one session, in order. */
export function sessionBarCloses(s: TradingSession, timeframe: Timeframe): number[] {
  const tf = timeframeMs(timeframe);
  if (timeframe === '1d') return [s.close];
  const out: number[] = [];
  for (let c = s.open + tf; c < s.close; c += tf) out.push(c);
  out.push(s.close);
  return out;
}

/** The bar (open and close, epoch ms) that closes at `closeMs`, a bar close of the session `s`. */
export function barOpenFor(s: TradingSession, closeMs: number, timeframe: Timeframe): number {
  const tf = timeframeMs(timeframe);
  if (timeframe === '1d') return s.open;
  return s.open + Math.ceil((closeMs - s.open) / tf - 1) * tf;
}

/** Every bar close c with fromMs < c <= toMs, in order. */
export function barCloses(cal: CalendarLike, fromMs: number, toMs: number, timeframe: Timeframe): number[] {
  checkTs(fromMs, 'fromMs');
  checkTs(toMs, 'toMs');
  timeframeMs(timeframe);
  const out: number[] = [];
  if (toMs <= fromMs) return out;
  const rt = runtime(cal);
  const first = localDay(rt, fromMs) - 1;
  const last = localDay(rt, toMs);
  for (let d = first; d <= last; d++) {
    const s = d === first ? sessionIfKnown(rt, d) : session(rt, d);
    if (s === null || s.close <= fromMs || s.open >= toMs) continue;
    for (const c of sessionBarCloses(s, timeframe)) if (c > fromMs && c <= toMs) out.push(c);
  }
  return out;
}

/**
 * Session close minus `minutes` on the trading day whose local date (in the calendar's time zone) contains
 * `dayMs`, e.g. the end-of-day liquidation time; never before that session's open. null when no session opens
 * on that date (weekend, holiday). Note: the local date of midnight UTC is the day before in New York.
 */
export function closeMinus(cal: CalendarLike, dayMs: number, minutes: number): number | null {
  checkTs(dayMs, 'dayMs');
  if (!(Number.isFinite(minutes) && minutes >= 0)) throw new RangeError(`minutes must be >= 0, got ${minutes}`);
  const rt = runtime(cal);
  const s = session(rt, localDay(rt, dayMs));
  if (s === null) return null;
  const t = s.close - minutes * MINUTE_MS;
  return t > s.open ? t : s.open;
}
