import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  barCloses,
  barOpenFor,
  closeMinus,
  CRYPTO_24X7,
  currentOrNextSession,
  easterSunday,
  getCalendar,
  isOpen,
  isTradingDay,
  localDate,
  nextBarClose,
  nextSessionOpen,
  nyseEarlyCloses,
  nyseHolidays,
  parseLocalDate,
  sessionBarCloses,
  sessionFor,
  sessionOn,
  settlementDate,
  simpleCalendar,
  timeframeMs,
  toYmd,
  tradingDays,
  XNYS,
} from '../../domain/calendar';

const Z = (iso: string) => Date.parse(iso.endsWith('Z') ? iso : `${iso}Z`);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const dates = (days: Array<{ date: number }>) => days.map((d) => d.date);

describe('XNYS holidays and early closes', () => {
  test('2024 matches the NYSE list', () => {
    expect(dates(nyseHolidays(2024))).toEqual([20240101, 20240115, 20240219, 20240329, 20240527, 20240619, 20240704, 20240902, 20241128, 20241225]);
    expect(dates(nyseEarlyCloses(2024))).toEqual([20240703, 20241129, 20241224]);
  });

  test('2025 matches the NYSE list, including the national day of mourning for President Carter (Jan 9)', () => {
    expect(dates(nyseHolidays(2025))).toEqual([20250101, 20250109, 20250120, 20250217, 20250418, 20250526, 20250619, 20250704, 20250901, 20251127, 20251225]);
    expect(dates(nyseEarlyCloses(2025))).toEqual([20250703, 20251128, 20251224]);
  });

  test('2026 (July 4 on a Saturday: Friday July 3 closed, no early close before it)', () => {
    expect(dates(nyseHolidays(2026))).toEqual([20260101, 20260119, 20260216, 20260403, 20260525, 20260619, 20260703, 20260907, 20261126, 20261225]);
    expect(dates(nyseEarlyCloses(2026))).toEqual([20261127, 20261224]);
  });

  test('weekend observance: Saturday -> Friday, Sunday -> Monday, New Year on a Saturday not observed', () => {
    const closed = [20211224, 20220620, 20221226, 20230102, 20200703, 20210705, 20271224, 20170102, 20230102, 20220117];
    const open = [20211231, 20220103, 20271231, 20210618, 20210702, 20100702, 20161230, 20221223];
    for (const d of closed) expect([d, isTradingDay(XNYS, d)]).toEqual([d, false]);
    for (const d of open) expect([d, isTradingDay(XNYS, d)]).toEqual([d, true]);
    // no Juneteenth before 2022
    expect(dates(nyseHolidays(2021))).not.toContain(20210618);
    expect(dates(nyseHolidays(2022))).toContain(20220620);
    // Christmas on a Saturday: Friday the 24th is the holiday, not an early close
    expect(dates(nyseEarlyCloses(2021))).toEqual([20211126]);
  });

  test('Good Friday from Easter', () => {
    const goodFridays: Record<number, number> = { 2000: 20000421, 2008: 20080321, 2011: 20110422, 2016: 20160325, 2019: 20190419, 2024: 20240329, 2025: 20250418, 2030: 20300419, 2035: 20350323 };
    for (const [year, gf] of Object.entries(goodFridays)) {
      expect(toYmd(easterSunday(Number(year)) - 2)).toBe(gf);
      expect(nyseHolidays(Number(year)).find((h) => h.name === 'Good Friday')?.date).toBe(gf);
    }
  });

  test('July early closes: Wednesday July 3 only from 2013; before that Friday July 5 (2002)', () => {
    expect(dates(nyseEarlyCloses(2002))).toEqual([20020705, 20021129, 20021224]);
    expect(dates(nyseEarlyCloses(2013))).toEqual([20130703, 20131129, 20131224]);
    expect(dates(nyseEarlyCloses(2019))).toEqual([20190703, 20191129, 20191224]);
    expect(dates(nyseEarlyCloses(2003))).toEqual([20030703, 20031128, 20031224, 20031226]);
    expect(dates(nyseEarlyCloses(2010))).toEqual([20101126]); // July 4 on a Sunday; Christmas Eve a Friday (closed)
  });

  test('special closures', () => {
    for (const d of [20010911, 20010912, 20010913, 20010914, 20040611, 20070102, 20121029, 20121030, 20181205, 20250109]) {
      expect([d, isTradingDay(XNYS, d)]).toEqual([d, false]);
    }
    expect(isTradingDay(XNYS, 20010917)).toBe(true);
    expect(isTradingDay(XNYS, 20121031)).toBe(true);
  });

  test('every year 2000..2035 has 9-11 weekday closures and 2-4 early closes', () => {
    for (let y = 2000; y <= 2035; y++) {
      const h = nyseHolidays(y);
      expect(h.length).toBeGreaterThanOrEqual(y === 2001 ? 13 : 8);
      expect(h.length).toBeLessThanOrEqual(y === 2001 ? 13 : 11);
      const e = nyseEarlyCloses(y);
      expect(e.length).toBeGreaterThanOrEqual(1);
      expect(e.length).toBeLessThanOrEqual(4);
    }
  });

  test('outside 2000..2035 is an error, not a guess', () => {
    expect(() => isTradingDay(XNYS, 19991231)).toThrow(RangeError);
    expect(() => isTradingDay(XNYS, '2036-01-02')).toThrow(/outside the XNYS calendar \(20000101\.\.20351231\)/);
    expect(() => nextSessionOpen(XNYS, Z('2035-12-31T22:00'))).toThrow(RangeError);
  });

  test('dates as numbers or strings; invalid dates throw', () => {
    expect(isTradingDay('XNYS', '2024-07-04')).toBe(false);
    expect(isTradingDay('XNYS', '20240705')).toBe(true);
    expect(isTradingDay('XNYS', 20240706)).toBe(false);
    expect(() => isTradingDay(XNYS, '2024-02-30')).toThrow(RangeError);
    expect(() => isTradingDay(XNYS, 20241301)).toThrow(RangeError);
    expect(() => parseLocalDate('yesterday')).toThrow(RangeError);
  });
});

describe('XNYS sessions (America/New_York, DST-correct)', () => {
  test('regular hours in winter (EST) and summer (EDT); early closes at 13:00', () => {
    expect(sessionOn(XNYS, 20240102)).toEqual({ date: 20240102, open: Z('2024-01-02T14:30'), close: Z('2024-01-02T21:00'), earlyClose: false });
    expect(sessionOn(XNYS, 20240701)).toEqual({ date: 20240701, open: Z('2024-07-01T13:30'), close: Z('2024-07-01T20:00'), earlyClose: false });
    expect(sessionOn(XNYS, 20240703)).toEqual({ date: 20240703, open: Z('2024-07-03T13:30'), close: Z('2024-07-03T17:00'), earlyClose: true });
    expect(sessionOn(XNYS, 20241129)).toEqual({ date: 20241129, open: Z('2024-11-29T14:30'), close: Z('2024-11-29T18:00'), earlyClose: true });
    expect(sessionOn(XNYS, 20241224)?.close).toBe(Z('2024-12-24T18:00'));
    expect(sessionOn(XNYS, 20240704)).toBeNull();
    expect(sessionOn(XNYS, 20240706)).toBeNull();
  });

  test('every session of 2000..2035 lasts 6.5 h (3.5 h on early closes) and opens at 09:30 local', () => {
    let days = 0;
    for (const d of tradingDays(XNYS, 20000101, 20351231)) {
      const s = sessionOn(XNYS, d)!;
      if (s.close - s.open !== (s.earlyClose ? 3.5 : 6.5) * 3_600_000) throw new Error(`${d} lasts ${s.close - s.open} ms`);
      if (days++ % 7 === 0) {
        const local = new Date(s.open).toLocaleTimeString('en-US', { timeZone: 'America/New_York', hour12: false });
        if (local !== '09:30:00') throw new Error(`${d} opens at ${local}`);
      }
    }
    expect(days).toBeGreaterThan(36 * 249);
    expect(days).toBeLessThan(36 * 254);
  });

  test('DST: the first 1m bar after the open on the Monday after the March change closes at 13:31Z (not 14:31Z)', () => {
    // 2024-03-10 (Sunday) is the change; Friday before it is still EST
    expect(iso(nextBarClose(XNYS, Z('2024-03-08T14:30'), '1m'))).toBe('2024-03-08T14:31:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T13:30'), '1m'))).toBe('2024-03-11T13:31:00Z');
    // from the Friday's close the next 1m close is Monday's first bar, in EDT
    expect(iso(nextBarClose(XNYS, Z('2024-03-08T21:00'), '1m'))).toBe('2024-03-11T13:31:00Z');
    // and back in November (2024-11-03)
    expect(iso(nextBarClose(XNYS, Z('2024-11-01T20:00'), '1m'))).toBe('2024-11-04T14:31:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-11-01T19:59:30'), '1m'))).toBe('2024-11-01T20:00:00Z');
  });

  test('nextBarClose inside a session: aligned to the open, strictly after', () => {
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T14:45:30'), '5m'))).toBe('2024-03-11T14:50:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T14:50'), '5m'))).toBe('2024-03-11T14:55:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T13:30'), '15m'))).toBe('2024-03-11T13:45:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T14:00'), '30m'))).toBe('2024-03-11T14:30:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T13:31'), '1h'))).toBe('2024-03-11T14:30:00Z');
    // 1h: 09:30-10:30 ... 14:30-15:30, then a half bar 15:30-16:00
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T19:45'), '1h'))).toBe('2024-03-11T20:00:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T15:00'), '1d'))).toBe('2024-03-11T20:00:00Z');
  });

  test('nextBarClose outside sessions: before the open, after the close, weekends, holidays', () => {
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T12:00'), '5m'))).toBe('2024-03-11T13:35:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-11T20:00'), '5m'))).toBe('2024-03-12T13:35:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-09T15:00'), '1h'))).toBe('2024-03-11T14:30:00Z'); // Saturday
    expect(iso(nextBarClose(XNYS, Z('2024-03-08T21:00'), '1d'))).toBe('2024-03-11T20:00:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-03-28T20:00'), '1d'))).toBe('2024-04-01T20:00:00Z'); // Good Friday
    expect(iso(nextBarClose(XNYS, Z('2024-07-03T17:00'), '1m'))).toBe('2024-07-05T13:31:00Z'); // early close, then July 4
    expect(iso(nextBarClose(XNYS, Z('2001-09-10T20:00'), '1d'))).toBe('2001-09-17T20:00:00Z');
  });

  test('early close: the last bar ends at 13:00', () => {
    expect(iso(nextBarClose(XNYS, Z('2024-11-29T17:45'), '1h'))).toBe('2024-11-29T18:00:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-11-29T17:59'), '1m'))).toBe('2024-11-29T18:00:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-11-29T18:00'), '1m'))).toBe('2024-12-02T14:31:00Z');
    expect(iso(nextBarClose(XNYS, Z('2024-11-29T15:00'), '1d'))).toBe('2024-11-29T18:00:00Z');
    const s = sessionOn(XNYS, 20241129)!;
    expect(sessionBarCloses(s, '1h').map(iso)).toEqual(['2024-11-29T15:30:00Z', '2024-11-29T16:30:00Z', '2024-11-29T17:30:00Z', '2024-11-29T18:00:00Z']);
    expect(barOpenFor(s, Z('2024-11-29T18:00'), '1h')).toBe(Z('2024-11-29T17:30'));
    expect(barOpenFor(s, Z('2024-11-29T16:30'), '1h')).toBe(Z('2024-11-29T15:30'));
    expect(sessionBarCloses(s, '1m')).toHaveLength(210);
    expect(sessionBarCloses(s, '30m')).toHaveLength(7);
  });

  test('barCloses: (from, to], sessions only', () => {
    expect(barCloses(XNYS, Z('2024-03-11T00:00'), Z('2024-03-12T00:00'), '1m')).toHaveLength(390);
    expect(barCloses(XNYS, Z('2024-03-11T00:00'), Z('2024-03-12T00:00'), '5m')).toHaveLength(78);
    expect(barCloses(XNYS, Z('2024-03-11T00:00'), Z('2024-03-12T00:00'), '1h')).toHaveLength(7);
    expect(barCloses(XNYS, Z('2024-03-11T13:31'), Z('2024-03-11T13:35'), '1m').map(iso)).toEqual([
      '2024-03-11T13:32:00Z',
      '2024-03-11T13:33:00Z',
      '2024-03-11T13:34:00Z',
      '2024-03-11T13:35:00Z',
    ]);
    // the week with Good Friday: 4 sessions
    expect(barCloses(XNYS, Z('2024-03-24T00:00'), Z('2024-03-31T00:00'), '1d').map(iso)).toEqual([
      '2024-03-25T20:00:00Z',
      '2024-03-26T20:00:00Z',
      '2024-03-27T20:00:00Z',
      '2024-03-28T20:00:00Z',
    ]);
    expect(barCloses(XNYS, Z('2024-01-01T00:00'), Z('2024-01-01T00:00'), '1m')).toEqual([]);
    // a whole year of 1m bars: 249 regular sessions and 3 early closes
    const year = barCloses(XNYS, Z('2024-01-01T00:00'), Z('2025-01-01T00:00'), '1m');
    expect(year).toHaveLength(249 * 390 + 3 * 210);
    for (let i = 1; i < year.length; i++) if (!(year[i] > year[i - 1])) throw new Error(`not increasing at ${i}`);
    // every close agrees with nextBarClose
    for (let i = 1; i < year.length; i += 997) expect(nextBarClose(XNYS, year[i - 1], '1m')).toBe(year[i]);
  });

  test('sessionFor, isOpen, nextSessionOpen', () => {
    const s = sessionOn(XNYS, 20240311)!;
    expect(sessionFor(XNYS, Z('2024-03-11T15:00'))).toEqual(s);
    expect(sessionFor(XNYS, s.open)).toEqual(s);
    expect(sessionFor(XNYS, s.close)).toBeNull();
    expect(sessionFor(XNYS, s.open - 1)).toBeNull();
    expect(sessionFor(XNYS, Z('2024-03-09T15:00'))).toBeNull();
    expect(sessionFor(XNYS, Z('2024-07-04T15:00'))).toBeNull();
    expect(isOpen(XNYS, Z('2024-07-03T16:59'))).toBe(true);
    expect(isOpen(XNYS, Z('2024-07-03T17:00'))).toBe(false);
    expect(iso(nextSessionOpen(XNYS, Z('2024-03-08T21:00')))).toBe('2024-03-11T13:30:00Z');
    expect(iso(nextSessionOpen(XNYS, Z('2024-03-11T12:00')))).toBe('2024-03-11T13:30:00Z');
    expect(iso(nextSessionOpen(XNYS, Z('2024-03-11T13:30')))).toBe('2024-03-12T13:30:00Z'); // strictly after
    expect(iso(nextSessionOpen(XNYS, Z('2024-11-27T21:00')))).toBe('2024-11-29T14:30:00Z'); // Thanksgiving
    expect(iso(nextSessionOpen(XNYS, Z('2024-12-31T22:00')))).toBe('2025-01-02T14:30:00Z');
    expect(currentOrNextSession(XNYS, Z('2024-03-09T15:00')).date).toBe(20240311);
  });

  test('localDate is the New York date', () => {
    expect(localDate(XNYS, Z('2024-03-11T03:00'))).toBe(20240310);
    expect(localDate(XNYS, Z('2024-03-11T05:00'))).toBe(20240311);
    expect(localDate(CRYPTO_24X7, Z('2024-03-11T03:00'))).toBe(20240311);
  });

  test('closeMinus: end-of-day liquidation time', () => {
    expect(iso(closeMinus(XNYS, Z('2024-11-29T15:00'), 10)!)).toBe('2024-11-29T17:50:00Z');
    expect(iso(closeMinus(XNYS, Z('2024-07-05T13:00'), 10)!)).toBe('2024-07-05T19:50:00Z');
    expect(iso(closeMinus(XNYS, Z('2024-01-05T13:00'), 15)!)).toBe('2024-01-05T20:45:00Z');
    expect(closeMinus(XNYS, Z('2024-07-04T15:00'), 10)).toBeNull();
    expect(closeMinus(XNYS, Z('2024-03-09T15:00'), 10)).toBeNull();
    // 01:00 UTC on Saturday is still Friday evening in New York
    expect(iso(closeMinus(XNYS, Z('2024-03-09T01:00'), 0)!)).toBe('2024-03-08T21:00:00Z');
    // never before the open
    expect(closeMinus(XNYS, Z('2024-11-29T15:00'), 600)).toBe(Z('2024-11-29T14:30'));
    expect(() => closeMinus(XNYS, Z('2024-11-29T15:00'), -1)).toThrow(RangeError);
  });
});

describe('settlement dates (T+1 from 2024-05-28, T+2 from 2017-09-05, T+3 before; Federal Reserve holidays and Good Friday)', () => {
  test.each([
    // Alpaca's 2025 calendar: a holiday, the 2025-01-09 closure the Fed worked through, Good Friday, Columbus and Veterans Day
    ['2024-12-31', 20250102],
    ['2025-01-08', 20250109],
    ['2025-01-10', 20250113],
    ['2025-04-17', 20250421],
    ['2025-10-10', 20251014],
    ['2025-10-13', 20251014],
    ['2025-11-10', 20251112],
    ['2025-11-26', 20251128],
    ['2025-12-24', 20251226],
    // the cycle changes: double settlement days 2024-05-29 and 2017-09-07
    ['2024-05-24', 20240529],
    ['2024-05-28', 20240529],
    ['2017-09-01', 20170907],
    ['2017-09-05', 20170907],
    // 2026: Thanksgiving, the early close after it, Christmas Eve
    ['2026-11-25', 20261127],
    ['2026-11-27', 20261130],
    ['2026-12-24', 20261228],
  ])('a trade on %s settles on %d', (trade, settles) => {
    expect(settlementDate(trade)).toBe(settles);
  });
});

describe('24x7 and simple calendars', () => {
  test('24x7: always open, UTC days, bars aligned to midnight UTC', () => {
    const cal = getCalendar('24x7');
    expect(cal).toBe(CRYPTO_24X7);
    expect(isTradingDay(cal, 20240309)).toBe(true);
    expect(sessionFor(cal, Z('2024-03-09T15:07'))).toEqual({ date: 20240309, open: Z('2024-03-09T00:00'), close: Z('2024-03-10T00:00'), earlyClose: false });
    expect(iso(nextBarClose(cal, Z('2024-03-09T15:07'), '1h'))).toBe('2024-03-09T16:00:00Z');
    expect(iso(nextBarClose(cal, Z('2024-03-09T23:59:59'), '1m'))).toBe('2024-03-10T00:00:00Z');
    expect(iso(nextBarClose(cal, Z('2024-03-10T00:00'), '1m'))).toBe('2024-03-10T00:01:00Z');
    expect(iso(nextBarClose(cal, Z('2024-03-09T15:07'), '1d'))).toBe('2024-03-10T00:00:00Z');
    expect(iso(nextBarClose(cal, Z('2024-03-10T00:00'), '1d'))).toBe('2024-03-11T00:00:00Z');
    expect(barCloses(cal, Z('2024-03-09T00:00'), Z('2024-03-11T00:00'), '1h')).toHaveLength(48);
    expect(barCloses(cal, Z('2024-03-09T00:00'), Z('2024-03-11T00:00'), '4h')).toHaveLength(12);
    expect(iso(closeMinus(cal, Z('2024-03-09T12:00'), 5)!)).toBe('2024-03-09T23:55:00Z');
    expect(iso(nextSessionOpen(cal, Z('2024-03-09T12:00')))).toBe('2024-03-10T00:00:00Z');
  });

  test('simple: London 08:00-16:30 on weekdays, DST-correct, with holidays', () => {
    const lse = simpleCalendar({ id: 'lse-ish', timeZone: 'Europe/London', open: '08:00', close: '16:30', weekdays: [1, 2, 3, 4, 5], holidays: ['2024-04-01'] });
    expect(getCalendar(lse)).toBe(lse);
    expect(sessionOn(lse, 20240328)).toMatchObject({ open: Z('2024-03-28T08:00'), close: Z('2024-03-28T16:30') });
    expect(sessionOn(lse, 20240402)).toMatchObject({ open: Z('2024-04-02T07:00'), close: Z('2024-04-02T15:30') });
    expect(isTradingDay(lse, 20240401)).toBe(false);
    expect(isTradingDay(lse, 20240330)).toBe(false);
    expect(iso(nextBarClose(lse, Z('2024-03-28T16:30'), '30m'))).toBe('2024-03-29T08:30:00Z');
    expect(iso(nextSessionOpen(lse, Z('2024-03-29T16:30')))).toBe('2024-04-02T07:00:00Z');
  });

  test('simple: an overnight session (Chicago 17:00-16:00, Sunday..Thursday opens)', () => {
    const glob = getCalendar({ timeZone: 'America/Chicago', open: '17:00', close: '16:00', weekdays: ['sun', 'mon', 'tue', 'wed', 'thu'] });
    const sunday = sessionOn(glob, 20240310)!; // the US DST change happens inside this session
    expect(sunday).toMatchObject({ open: Z('2024-03-10T22:00'), close: Z('2024-03-11T21:00') });
    expect(sessionFor(glob, Z('2024-03-11T15:00'))).toEqual(sunday);
    expect(sessionFor(glob, Z('2024-03-11T21:30'))).toBeNull();
    expect(iso(nextBarClose(glob, Z('2024-03-11T15:00'), '1d'))).toBe('2024-03-11T21:00:00Z');
    expect(iso(nextBarClose(glob, Z('2024-03-11T21:00'), '1h'))).toBe('2024-03-11T23:00:00Z');
    expect(isTradingDay(glob, 20240315)).toBe(false); // Friday: no session opens
    expect(isOpen(glob, Z('2024-03-15T15:00'))).toBe(true); // Thursday's session
  });

  test('invalid simple configs and ids are rejected', () => {
    expect(() => simpleCalendar({ timeZone: 'Mars/Olympus', open: '09:00', close: '17:00', weekdays: [1] })).toThrow(/IANA/);
    expect(() => simpleCalendar({ timeZone: 'UTC', open: '9:00', close: '17:00', weekdays: [1] })).toThrow(/HH:MM/);
    expect(() => simpleCalendar({ timeZone: 'UTC', open: '09:00', close: '17:00', weekdays: [] })).toThrow(/at least one/);
    expect(() => simpleCalendar({ timeZone: 'UTC', open: '09:00', close: '17:00', weekdays: [7] })).toThrow();
    expect(() => getCalendar('XLON' as never)).toThrow(/unknown calendar/);
    expect(() => nextBarClose(XNYS, Z('2024-03-11T15:00'), '2m' as never)).toThrow(/unknown timeframe/);
    expect(() => nextBarClose(XNYS, Number.NaN, '1m')).toThrow(RangeError);
    expect(timeframeMs('15m')).toBe(900_000);
  });
});

describe('against the daily files in ../shared/data (trading days only, 2000 on)', () => {
  const DATA = path.resolve(__dirname, '../../../shared/data');
  const days = (file: string) =>
    readFileSync(path.join(DATA, file), 'utf8')
      .split(/\r?\n/)
      .slice(1)
      .filter((l) => l.length >= 10)
      .map((l) => Number(l.slice(0, 10).replace(/-/g, '')))
      .filter((d) => d >= 20000101);

  test.each(['orcl-1995-2014.txt', 'nvda-1999-2014.txt', 'yhoo-1996-2015.txt'])('%s: every date is a trading day, and no trading day is missing', (file) => {
    const listed = days(file);
    expect(listed.length).toBeGreaterThan(3700);
    const closed = listed.filter((d) => !isTradingDay(XNYS, d));
    const set = new Set(listed);
    const missing = tradingDays(XNYS, listed[0], listed[listed.length - 1]).filter((d) => !set.has(d));
    expect({ closed, missing }).toEqual({ closed: [], missing: [] });
    // the special closures are absent from the file
    for (const d of [20010911, 20010914, 20040611, 20070102, 20121029, 20121030]) expect(set.has(d)).toBe(false);
  });
});
