/**
 * Civil-date arithmetic on day numbers (days since 1970-01-01 in the proleptic Gregorian calendar). Local dates
 * are written as YYYYMMDD numbers (20240115) in the calendar API; strings '2024-01-15' and '20240115' are
 * accepted too. Pure integer arithmetic (no Date, no clock, no time zone: see ./zone.ts), cheap enough for the
 * CSV parser's per-row path.
 */

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** A local calendar date: 20240115, '2024-01-15' or '20240115'. */
export type LocalDate = number | string;

const { floor } = Math;

/** Day number of a civil date, month 1..12 (H. Hinnant's days_from_civil; a day beyond the month runs on). */
export function dayNumber(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = floor(y / 400);
  const yoe = y - era * 400;
  const doy = floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** { year, month (1..12), day } of a day number (H. Hinnant's civil_from_days). */
export function civil(day: number): { year: number; month: number; day: number } {
  const z = day + 719468;
  const era = floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100));
  const mp = floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day: doy - floor((153 * mp + 2) / 5) + 1 };
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Day of the week of a day number: 0 = Sunday .. 6 = Saturday (as Date#getUTCDay). */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
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
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) throw new RangeError(`not a real date: ${String(date)}`);
  return dayNumber(y, m, d);
}

/** The n-th (1-based) given weekday (0 = Sunday) of a month. */
export function nthWeekday(year: number, month: number, wd: number, n: number): number {
  const first = dayNumber(year, month, 1);
  return first + ((wd - weekday(first) + 7) % 7) + (n - 1) * 7;
}

/** The last given weekday (0 = Sunday) of a month. */
export function lastWeekday(year: number, month: number, wd: number): number {
  const last = dayNumber(year, month, daysInMonth(year, month));
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
