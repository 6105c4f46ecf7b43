import { dayNumber, easterSunday, lastWeekday, nthWeekday, toYmd, weekday } from '../time/dates';

/**
 * NYSE (XNYS) holidays and early closes, 2000..2035, from the exchange's rules (NYSE Rule 7.2 and the published
 * holiday calendars) plus the known special closures. Regular session 09:30-16:00 America/New_York; early
 * closes at 13:00.
 *
 * Holidays: New Year's Day, Martin Luther King Jr. Day (3rd Monday of January), Washington's Birthday
 * (3rd Monday of February), Good Friday (Easter Sunday - 2), Memorial Day (last Monday of May), Juneteenth
 * (June 19, from 2022), Independence Day (July 4), Labor Day (1st Monday of September), Thanksgiving
 * (4th Thursday of November), Christmas (December 25).
 * Weekend rule: a holiday on a Saturday closes the Friday before, on a Sunday the Monday after; except New
 * Year's Day on a Saturday, which is not observed (the Friday, December 31, is the end of an accounting
 * period and trades normally, e.g. 2021-12-31).
 *
 * Early closes (13:00): the day after Thanksgiving; Christmas Eve on a Monday..Thursday; July 3 on a Monday,
 * Tuesday or Thursday, and also on a Wednesday from 2013 on (before 2013, when July 4 was a Thursday the early
 * close was Friday July 5 instead: 2002-07-05); plus 2003-12-26 (the Friday after Christmas).
 *
 * Special closures: 2001-09-11..14 (September 11), 2004-06-11 (President Reagan's funeral), 2007-01-02
 * (President Ford), 2012-10-29/30 (Hurricane Sandy), 2018-12-05 (President George H. W. Bush), 2025-01-09
 * (President Carter).
 * Not modelled: unscheduled intraday halts, late opens (moments of silence, 2001-09-17) and unscheduled early
 * closes (2005-06-01 15:56 systems problem); closures announced after this file was written must be added here.
 */

export const XNYS_FIRST_YEAR = 2000;
export const XNYS_LAST_YEAR = 2035;
/** minutes after local midnight */
export const XNYS_OPEN_MINUTE = 9 * 60 + 30;
export const XNYS_CLOSE_MINUTE = 16 * 60;
export const XNYS_EARLY_CLOSE_MINUTE = 13 * 60;

export interface NyseDay {
  /** YYYYMMDD */
  date: number;
  name: string;
}

const SPECIAL_CLOSURES: ReadonlyArray<[number, string]> = [
  [20010911, 'September 11 attacks'],
  [20010912, 'September 11 attacks'],
  [20010913, 'September 11 attacks'],
  [20010914, 'September 11 attacks'],
  [20040611, 'National day of mourning: President Reagan'],
  [20070102, 'National day of mourning: President Ford'],
  [20121029, 'Hurricane Sandy'],
  [20121030, 'Hurricane Sandy'],
  [20181205, 'National day of mourning: President George H. W. Bush'],
  [20250109, 'National day of mourning: President Carter'],
];

const SPECIAL_EARLY_CLOSES: ReadonlyArray<[number, string]> = [[20031226, 'Day after Christmas']];

interface YearTable {
  holidays: Map<number, string>;
  earlyCloses: Map<number, string>;
}

const SUN = 0;
const MON = 1;
const WED = 3;
const THU = 4;
const SAT = 6;

const tables = new Map<number, YearTable>();

function yearTable(year: number): YearTable {
  let t = tables.get(year);
  if (t !== undefined) return t;
  const holidays = new Map<number, string>();
  const earlyCloses = new Map<number, string>();
  /** the day a fixed-date holiday is observed on: Saturday -> Friday, Sunday -> Monday */
  const observed = (day: number) => (weekday(day) === SAT ? day - 1 : weekday(day) === SUN ? day + 1 : day);

  const newYear = dayNumber(year, 1, 1);
  if (weekday(newYear) !== SAT) holidays.set(observed(newYear), "New Year's Day");
  holidays.set(nthWeekday(year, 1, MON, 3), 'Martin Luther King Jr. Day');
  holidays.set(nthWeekday(year, 2, MON, 3), "Washington's Birthday");
  holidays.set(easterSunday(year) - 2, 'Good Friday');
  holidays.set(lastWeekday(year, 5, MON), 'Memorial Day');
  if (year >= 2022) holidays.set(observed(dayNumber(year, 6, 19)), 'Juneteenth National Independence Day');
  holidays.set(observed(dayNumber(year, 7, 4)), 'Independence Day');
  holidays.set(nthWeekday(year, 9, MON, 1), 'Labor Day');
  const thanksgiving = nthWeekday(year, 11, THU, 4);
  holidays.set(thanksgiving, 'Thanksgiving Day');
  holidays.set(observed(dayNumber(year, 12, 25)), 'Christmas Day');
  for (const [ymd, name] of SPECIAL_CLOSURES) if (Math.floor(ymd / 10_000) === year) holidays.set(ymdToDay(ymd), name);

  earlyCloses.set(thanksgiving + 1, 'Day after Thanksgiving');
  const christmasEve = dayNumber(year, 12, 24);
  if (weekday(christmasEve) >= MON && weekday(christmasEve) <= THU) earlyCloses.set(christmasEve, 'Christmas Eve');
  const july3 = dayNumber(year, 7, 3);
  const wd3 = weekday(july3);
  if (wd3 === MON || wd3 === 2 || wd3 === THU || (wd3 === WED && year >= 2013)) earlyCloses.set(july3, 'Day before Independence Day');
  if (wd3 === WED && year < 2013) earlyCloses.set(july3 + 2, 'Day after Independence Day');
  for (const [ymd, name] of SPECIAL_EARLY_CLOSES) if (Math.floor(ymd / 10_000) === year) earlyCloses.set(ymdToDay(ymd), name);
  for (const day of holidays.keys()) earlyCloses.delete(day);

  t = { holidays, earlyCloses };
  tables.set(year, t);
  return t;
}

function ymdToDay(ymd: number): number {
  return dayNumber(Math.floor(ymd / 10_000), Math.floor(ymd / 100) % 100, ymd % 100);
}

function checkYear(year: number): void {
  if (!(year >= XNYS_FIRST_YEAR && year <= XNYS_LAST_YEAR)) {
    throw new RangeError(`the XNYS calendar covers ${XNYS_FIRST_YEAR}-01-01..${XNYS_LAST_YEAR}-12-31, not ${year}`);
  }
}

/** Weekday closures (holidays, observed holidays and special closures) of a year, in date order. */
export function nyseHolidays(year: number): NyseDay[] {
  checkYear(year);
  return sortDays(yearTable(year).holidays);
}

/** 13:00 early closes of a year, in date order. */
export function nyseEarlyCloses(year: number): NyseDay[] {
  checkYear(year);
  return sortDays(yearTable(year).earlyCloses);
}

function sortDays(m: Map<number, string>): NyseDay[] {
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([day, name]) => ({ date: toYmd(day), name }));
}

/**
 * NYSE hours of a local date (a day number): minutes after local midnight, or null when closed (weekend or
 * holiday). Throws a RangeError outside 2000..2035.
 */
export function nyseHours(day: number, year: number): { open: number; close: number; earlyClose: boolean } | null {
  checkYear(year);
  const wd = weekday(day);
  if (wd === SAT || wd === SUN) return null;
  const t = yearTable(year);
  if (t.holidays.has(day)) return null;
  const early = t.earlyCloses.has(day);
  return { open: XNYS_OPEN_MINUTE, close: early ? XNYS_EARLY_CLOSE_MINUTE : XNYS_CLOSE_MINUTE, earlyClose: early };
}
