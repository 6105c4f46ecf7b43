/**
 * Civil-date arithmetic on day numbers (days since 1970-01-01 in the proleptic Gregorian calendar). Local dates
 * are written as YYYYMMDD numbers (20240115) in the calendar API; strings '2024-01-15' and '20240115' are
 * accepted too. Pure: no clock, no time zone (see ./calendar.ts for those).
 */

export const DAY_MS = 86_400_000;
export const MINUTE_MS = 60_000;

/** A local calendar date: 20240115, '2024-01-15' or '20240115'. */
export type LocalDate = number | string;

const { floor } = Math;

/** Day number of a civil date (month 1..12). */
export function dayNumber(year: number, month: number, day: number): number {
  return floor(Date.UTC(year, month - 1, day) / DAY_MS);
}

/** Day of the week of a day number: 0 = Sunday .. 6 = Saturday (as Date#getUTCDay). */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/** { year, month (1..12), day } of a day number. */
export function civil(day: number): { year: number; month: number; day: number } {
  const d = new Date(day * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** YYYYMMDD number of a day number. */
export function toYmd(day: number): number {
  const c = civil(day);
  return c.year * 10_000 + c.month * 100 + c.day;
}

/** 'YYYY-MM-DD' of a day number. */
export function toIsoDate(day: number): string {
  const c = civil(day);
  return `${String(c.year).padStart(4, '0')}-${String(c.month).padStart(2, '0')}-${String(c.day).padStart(2, '0')}`;
}

/** Day number of a LocalDate; throws a RangeError for anything that is not a real date. */
export function parseLocalDate(date: LocalDate): number {
  let y: number;
  let m: number;
  let d: number;
  if (typeof date === 'number') {
    if (!Number.isInteger(date) || date < 101 || date > 99_991_231) throw new RangeError(`not a YYYYMMDD date: ${date}`);
    y = floor(date / 10_000);
    m = floor(date / 100) % 100;
    d = date % 100;
  } else {
    const match = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(date);
    if (match === null) throw new RangeError(`not a date (expected YYYY-MM-DD or YYYYMMDD): "${date}"`);
    y = Number(match[1]);
    m = Number(match[2]);
    d = Number(match[3]);
  }
  const day = dayNumber(y, m, d);
  const back = civil(day);
  if (m < 1 || m > 12 || back.year !== y || back.month !== m || back.day !== d) throw new RangeError(`not a real date: ${String(date)}`);
  return day;
}

/** The n-th (1-based) given weekday (0 = Sunday) of a month. */
export function nthWeekday(year: number, month: number, wd: number, n: number): number {
  const first = dayNumber(year, month, 1);
  return first + ((wd - weekday(first) + 7) % 7) + (n - 1) * 7;
}

/** The last given weekday (0 = Sunday) of a month. */
export function lastWeekday(year: number, month: number, wd: number): number {
  const last = dayNumber(year, month + 1, 0);
  return last - ((weekday(last) - wd + 7) % 7);
}

/** Western (Gregorian) Easter Sunday of a year (the anonymous Gregorian algorithm, Meeus/Jones/Butcher). */
export function easterSunday(year: number): number {
  const a = year % 19;
  const b = floor(year / 100);
  const c = year % 100;
  const d = floor(b / 4);
  const e = b % 4;
  const f = floor((b + 8) / 25);
  const g = floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = floor((a + 11 * h + 22 * l) / 451);
  const month = floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return dayNumber(year, month, day);
}
