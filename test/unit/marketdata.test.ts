import type { Bar, Timeframe } from '../../domain/bars';
import { aggregateBars, baseRangeFor } from '../../domain/marketdata/aggregate';
import { calendarBarAt, calendarBarClosingAt, calendarBars, countCalendarBars, nextCalendarBar } from '../../domain/marketdata/calendar-bars';
import { dataTimeAt, wallMsUntil } from '../../domain/marketdata/clock';
import { gapBetween, openBarsBefore } from '../../domain/marketdata/gaps';
import { qualityLevel, screenFeedBars, seriesQuality, worseLevel } from '../../domain/marketdata/quality';
import { nextBarClose } from '../../domain/calendar';

const Z = (iso: string) => Date.parse(iso.endsWith('Z') ? iso : `${iso}Z`);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const MIN = 60_000;

/** Bars of `tf` at the given opens, prices rising by 1 per bar from 100 (so every field is checkable). */
function barsAt(opens: number[]): Bar[] {
  return opens.map((ts, i) => ({ ts, open: 100 + i, high: 100.5 + i, low: 99.5 + i, close: 100.25 + i, volume: 10 }));
}

describe('calendar bars', () => {
  test('NYSE 1h bars follow the session: 09:30-10:30 ... 15:30-16:00', () => {
    const day = calendarBars('XNYS', '1h', Z('2024-03-08T00:00'), Z('2024-03-08T23:59'));
    expect(day.map((b) => `${iso(b.open)}-${iso(b.close).slice(11, 16)}`)).toEqual([
      '2024-03-08T14:30:00Z-15:30',
      '2024-03-08T15:30:00Z-16:30',
      '2024-03-08T16:30:00Z-17:30',
      '2024-03-08T17:30:00Z-18:30',
      '2024-03-08T18:30:00Z-19:30',
      '2024-03-08T19:30:00Z-20:30',
      '2024-03-08T20:30:00Z-21:00',
    ]);
  });

  test('an 8h bar of NYSE is the session, also on an early close; on 24x7 it is 8 hours', () => {
    expect(calendarBars('XNYS', '8h', Z('2024-07-02T00:00'), Z('2024-07-03T23:00')).map((b) => [iso(b.open), iso(b.close)])).toEqual([
      ['2024-07-02T13:30:00Z', '2024-07-02T20:00:00Z'],
      ['2024-07-03T13:30:00Z', '2024-07-03T17:00:00Z'],
    ]);
    expect(calendarBars('24x7', '8h', Z('2024-07-02T00:00'), Z('2024-07-02T23:00')).map((b) => iso(b.open))).toEqual([
      '2024-07-02T00:00:00Z',
      '2024-07-02T08:00:00Z',
      '2024-07-02T16:00:00Z',
    ]);
  });

  test('a range starting inside a bar begins with the next bar; weekends and holidays have none', () => {
    expect(calendarBars('XNYS', '5m', Z('2024-03-08T14:32'), Z('2024-03-08T14:45')).map((b) => iso(b.open))).toEqual([
      '2024-03-08T14:35:00Z',
      '2024-03-08T14:40:00Z',
      '2024-03-08T14:45:00Z',
    ]);
    expect(countCalendarBars('XNYS', '1m', Z('2024-03-09T00:00'), Z('2024-03-10T23:59'))).toBe(0);
    expect(countCalendarBars('XNYS', '1m', Z('2024-03-08T00:00'), Z('2024-03-08T23:59'))).toBe(390);
    expect(countCalendarBars('XNYS', '1d', Z('2024-12-23T00:00'), Z('2024-12-27T23:59'))).toBe(4); // Christmas
  });

  test('the bar after the last of a session is the first of the next trading day', () => {
    expect(iso(nextCalendarBar('XNYS', Z('2024-03-08T20:59'), '1m').open)).toBe('2024-03-11T13:30:00Z'); // DST began
    expect(calendarBarAt('XNYS', Z('2024-03-08T21:00'), '1m')).toBeNull();
    expect(calendarBarClosingAt('XNYS', nextBarClose('XNYS', Z('2024-03-08T15:00'), '1h'), '1h')).toEqual({ open: Z('2024-03-08T14:30'), close: Z('2024-03-08T15:30') });
    expect(calendarBarClosingAt('XNYS', Z('2024-03-08T15:00'), '1h')).toBeNull();
  });
});

describe('aggregation follows the session', () => {
  test('8h from 1h on NYSE: one bar per session, open of the first hour, close of the last, summed volume', () => {
    const hours = calendarBars('XNYS', '1h', Z('2024-07-02T00:00'), Z('2024-07-03T23:00')).map((b) => b.open);
    expect(hours).toHaveLength(7 + 4); // a full day, then the 13:00 early close
    const r = aggregateBars(barsAt(hours), { calendar: 'XNYS', from: '1h', to: '8h' });
    expect(r.bars).toEqual([
      { ts: Z('2024-07-02T13:30'), open: 100, high: 106.5, low: 99.5, close: 106.25, volume: 70 },
      { ts: Z('2024-07-03T13:30'), open: 107, high: 110.5, low: 106.5, close: 110.25, volume: 40 },
    ]);
    expect([r.outsideSession, r.misaligned, r.forming]).toEqual([0, 0, 0]);
  });

  test('1h from 30m (Alpaca serves clock-aligned hours): 09:30-10:30 is two half hours, 15:30-16:00 one', () => {
    const halves = calendarBars('XNYS', '30m', Z('2024-03-08T00:00'), Z('2024-03-08T23:00')).map((b) => b.open);
    const r = aggregateBars(barsAt(halves), { calendar: 'XNYS', from: '30m', to: '1h' });
    expect(r.bars.map((b) => [iso(b.ts), b.volume])).toEqual([
      ['2024-03-08T14:30:00Z', 20],
      ['2024-03-08T15:30:00Z', 20],
      ['2024-03-08T16:30:00Z', 20],
      ['2024-03-08T17:30:00Z', 20],
      ['2024-03-08T18:30:00Z', 20],
      ['2024-03-08T19:30:00Z', 20],
      ['2024-03-08T20:30:00Z', 10],
    ]);
  });

  test('extended hours are left out; clock-aligned base bars do not fit session bars; a forming bar waits', () => {
    const pre = barsAt([Z('2024-03-08T14:00'), Z('2024-03-08T14:30'), Z('2024-03-08T15:00')]);
    const r = aggregateBars(pre, { calendar: 'XNYS', from: '30m', to: '1h', closedBy: Z('2024-03-08T15:20') });
    expect([r.bars.length, r.outsideSession, r.forming]).toEqual([0, 1, 1]);
    const done = aggregateBars(pre, { calendar: 'XNYS', from: '30m', to: '1h', closedBy: Z('2024-03-08T15:30') });
    expect(done.bars).toEqual([{ ts: Z('2024-03-08T14:30'), open: 101, high: 102.5, low: 100.5, close: 102.25, volume: 20 }]);
    const late = aggregateBars(pre.slice(0, 2), { calendar: 'XNYS', from: '30m', to: '1h', closedBy: Z('2024-03-08T15:30'), requireClosingBase: true });
    expect([late.bars.length, late.forming]).toEqual([0, 1]); // 15:00-15:30 has not come: no short 1h candle
    const clockHours = aggregateBars(barsAt([Z('2024-03-08T15:00'), Z('2024-03-08T16:00')]), { calendar: 'XNYS', from: '1h', to: '4h' });
    expect([clockHours.bars.length, clockHours.misaligned]).toEqual([0, 2]);
    expect(() => aggregateBars([], { calendar: 'XNYS', from: '1h', to: '5m' })).toThrow(/shorter/);
  });

  test('the base range of a target range ends at the last target bar close', () => {
    expect(baseRangeFor('XNYS', '1h', Z('2024-03-08T14:30'), Z('2024-03-08T20:30'))).toEqual({ fromMs: Z('2024-03-08T14:30'), toMs: Z('2024-03-08T21:00') - 1 });
  });
});

describe('screening provider bars', () => {
  const now = Z('2024-03-08T15:00:30');
  const opts = { calendar: 'XNYS' as const, timeframe: '1m' as Timeframe, nowMs: now };
  test('invalid bars are skipped and counted; extended hours and forming bars are not invalid', () => {
    const good = barsAt([Z('2024-03-08T14:58'), Z('2024-03-08T14:59')]);
    const input: Bar[] = [
      good[1]!,
      good[0]!,
      { ...good[0]!, close: 100.4 }, // repeated time
      { ts: Z('2024-03-08T14:57'), open: 10, high: 9, low: 8, close: 9, volume: 1 }, // high < open
      { ts: Z('2024-03-08T14:56'), open: 10, high: 11, low: 9, close: 10, volume: -1 },
      { ts: Z('2024-03-08T14:55:30'), open: 10, high: 11, low: 9, close: 10, volume: 1 }, // not a 1m bar
      { ts: Z('2024-03-08T13:00'), open: 10, high: 11, low: 9, close: 10, volume: 1 }, // pre-market
      { ts: Z('2024-03-08T15:00'), open: 10, high: 11, low: 9, close: 10, volume: 1 }, // forming
      { ts: Z('2024-03-08T15:05'), open: 10, high: 11, low: 9, close: 10, volume: 1 }, // future
      { ts: Number.NaN, open: 10, high: 11, low: 9, close: 10, volume: 1 },
    ];
    const r = screenFeedBars(input, opts);
    expect(r.bars).toEqual(good);
    expect([r.invalid, r.outsideSession, r.forming]).toEqual([6, 1, 1]);
    expect(r.samples.map((s) => s.reason)).toEqual([
      expect.stringMatching(/high 9 < max/),
      expect.stringMatching(/volume/),
      expect.stringMatching(/not where a 1m bar opens/),
      expect.stringMatching(/in the future/),
      expect.stringMatching(/whole epoch ms/),
      expect.stringMatching(/a second bar/),
    ]);
  });
});

describe('quality levels (DESIGN.md)', () => {
  test('missing > 5 % warning, > 20 % error; delay > 5 min warning, > 10 min error; exactly at a threshold is not above it', () => {
    expect(qualityLevel(0.05, 0)).toBe('OK');
    expect(qualityLevel(0.0501, 0)).toBe('WARNING');
    expect(qualityLevel(0.2, 0)).toBe('WARNING');
    expect(qualityLevel(0.21, 0)).toBe('ERROR');
    expect(qualityLevel(0, 5 * MIN)).toBe('OK');
    expect(qualityLevel(0, 5 * MIN + 1)).toBe('WARNING');
    expect(qualityLevel(0, 10 * MIN + 1)).toBe('ERROR');
    expect(qualityLevel(0.06, 11 * MIN)).toBe('ERROR');
    expect(worseLevel('WARNING', 'OK')).toBe('WARNING');
    expect(worseLevel('WARNING', 'ERROR')).toBe('ERROR');
  });

  test('a series of a day: 390 expected, 370 received is 5.1 % missing (warning)', () => {
    const q = seriesQuality({ expected: 390, received: 370, invalid: 3, gaps: 2, maxDelayMs: 2_000 });
    expect(q.level).toBe('WARNING');
    expect(q.missingRate).toBeCloseTo(20 / 390, 12);
    expect(q.successRate).toBeCloseTo(370 / 390, 12);
    expect(seriesQuality({ expected: 0, received: 0, invalid: 0, gaps: 0, maxDelayMs: 0 }).level).toBe('OK');
  });
});

describe('gaps', () => {
  test('bars missing between the last stored one and a new one; none across a night or weekend', () => {
    expect(gapBetween('XNYS', '1m', Z('2024-03-08T14:55'), Z('2024-03-08T14:56'))).toBeNull();
    expect(gapBetween('XNYS', '1m', Z('2024-03-08T14:55'), Z('2024-03-08T14:59'))).toEqual({ fromMs: Z('2024-03-08T14:56'), toMs: Z('2024-03-08T14:58'), bars: 3 });
    expect(gapBetween('XNYS', '1m', Z('2024-03-08T20:59'), Z('2024-03-11T13:30'))).toBeNull();
    expect(gapBetween('XNYS', '1m', Z('2024-03-08T20:58'), Z('2024-03-11T13:31'))).toEqual({ fromMs: Z('2024-03-08T20:59'), toMs: Z('2024-03-11T13:30'), bars: 2 });
    expect(gapBetween('XNYS', '1m', Z('2024-03-08T20:58'), Z('2024-03-08T20:57'))).toBeNull();
  });

  test('n bars back across a weekend', () => {
    expect(iso(openBarsBefore('XNYS', '1m', Z('2024-03-11T13:32'), 3))).toBe('2024-03-08T20:59:00Z');
    expect(iso(openBarsBefore('XNYS', '1d', Z('2024-03-11T13:30'), 5))).toBe('2024-03-04T14:30:00Z');
    expect(openBarsBefore('XNYS', '1m', Z('2024-03-11T13:32'), 0)).toBe(Z('2024-03-11T13:32'));
  });
});

describe('replay clock', () => {
  test('data time runs speed times faster from its start; the wall wait until a data time', () => {
    const clock = { dataStartMs: Z('2006-01-03T14:30'), wallStartMs: 1_000_000, speed: 60 };
    expect(iso(dataTimeAt(clock, 1_000_000 + 1_000))).toBe('2006-01-03T14:31:00Z');
    expect(wallMsUntil(clock, 1_000_000, Z('2006-01-03T14:32'))).toBe(2_000);
    expect(dataTimeAt(undefined, 42)).toBe(42);
    expect(wallMsUntil(null, 10, 25)).toBe(15);
  });
});
