import { civil, dayNumber, daysInMonth, lastWeekday, parseLocalDate, toIsoDate, weekday } from '../../domain/time/dates';

const DAY = 86_400_000;

describe('civil-date arithmetic', () => {
  test('dayNumber and civil agree with Date on every day from 1800 to 2200', () => {
    const from = Math.floor(Date.UTC(1800, 0, 1) / DAY);
    const to = Math.floor(Date.UTC(2200, 11, 31) / DAY);
    for (let day = from; day <= to; day++) {
      const d = new Date(day * DAY);
      const c = civil(day);
      if (c.year !== d.getUTCFullYear() || c.month !== d.getUTCMonth() + 1 || c.day !== d.getUTCDate()) throw new Error(`civil(${day}) = ${JSON.stringify(c)}, Date says ${d.toISOString()}`);
      if (dayNumber(c.year, c.month, c.day) !== day) throw new Error(`dayNumber of ${d.toISOString()} is not ${day}`);
      if (weekday(day) !== d.getUTCDay()) throw new Error(`weekday(${day})`);
    }
    expect(dayNumber(1970, 1, 1)).toBe(0);
    expect(dayNumber(2000, 3, 0)).toBe(dayNumber(2000, 2, 29)); // a day beyond the month runs on
  });

  test('month lengths, leap years and the last weekday of a month', () => {
    expect([2000, 1900, 2024, 2023].map((y) => daysInMonth(y, 2))).toEqual([29, 28, 29, 28]);
    expect(toIsoDate(lastWeekday(2024, 5, 1))).toBe('2024-05-27'); // Memorial Day
    expect(toIsoDate(lastWeekday(2024, 12, 2))).toBe('2024-12-31');
  });

  test('parseLocalDate takes real dates only', () => {
    expect(parseLocalDate(20240229)).toBe(dayNumber(2024, 2, 29));
    expect(parseLocalDate('2024-02-29')).toBe(parseLocalDate('20240229'));
    for (const bad of [20230229, 20241301, 20240100, '2024-04-31', '2024-1-01', 2.5]) expect(() => parseLocalDate(bad)).toThrow(RangeError);
  });
});
