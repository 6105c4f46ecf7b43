import { civil, dayNumber, easterSunday, lastWeekday, nthWeekday, parseLocalDate, toYmd, weekday, type LocalDate } from '../time/dates';

/**
 * US equity settlement dates (what Alpaca's calendar reports as `settlement_date`): trade date plus the
 * settlement cycle in settlement days. The cycle is T+1 from 2024-05-28, T+2 from 2017-09-05, T+3 before.
 *
 * Settlement days are weekdays on which the Federal Reserve is open and DTC settles: the Federal Reserve
 * holidays (New Year's Day, Martin Luther King Jr. Day, Washington's Birthday, Memorial Day, Juneteenth from
 * 2022, Independence Day, Labor Day, Columbus Day, Veterans Day, Thanksgiving, Christmas; a Sunday holiday
 * moves to Monday, a Saturday holiday is not moved) and Good Friday are not. So settlement skips Columbus
 * and Veterans Day, when the exchange trades, and settles on exchange closures the Fed works through
 * (e.g. the 2025-01-09 day of mourning). Alpaca's 2025 calendar agrees on each of these cases.
 */

const SUN = 0;
const MON = 1;
const THU = 4;
const SAT = 6;

const T1_FROM = dayNumber(2024, 5, 28);
const T2_FROM = dayNumber(2017, 9, 5);

const holidayCache = new Map<number, Set<number>>();

function settlementHolidays(year: number): Set<number> {
  let set = holidayCache.get(year);
  if (set) return set;
  const sundayToMonday = (day: number) => (weekday(day) === SUN ? day + 1 : day);
  set = new Set<number>([
    sundayToMonday(dayNumber(year, 1, 1)),
    nthWeekday(year, 1, MON, 3),
    nthWeekday(year, 2, MON, 3),
    easterSunday(year) - 2,
    lastWeekday(year, 5, MON),
    sundayToMonday(dayNumber(year, 7, 4)),
    nthWeekday(year, 9, MON, 1),
    nthWeekday(year, 10, MON, 2),
    sundayToMonday(dayNumber(year, 11, 11)),
    nthWeekday(year, 11, THU, 4),
    sundayToMonday(dayNumber(year, 12, 25)),
  ]);
  if (year >= 2022) set.add(sundayToMonday(dayNumber(year, 6, 19)));
  holidayCache.set(year, set);
  return set;
}

/** Whether securities settle on a day number. */
export function isSettlementDay(day: number): boolean {
  const wd = weekday(day);
  if (wd === SAT || wd === SUN) return false;
  return !settlementHolidays(civil(day).year).has(day);
}

/** The settlement date (YYYYMMDD) of a trade on `tradeDate`. */
export function settlementDate(tradeDate: LocalDate): number {
  let day = parseLocalDate(tradeDate);
  let left = day >= T1_FROM ? 1 : day >= T2_FROM ? 2 : 3;
  while (left > 0) {
    day++;
    if (isSettlementDay(day)) left--;
  }
  return toYmd(day);
}
