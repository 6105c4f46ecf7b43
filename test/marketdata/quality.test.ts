/** Bar validation and the DESIGN.md data-quality levels, at and just past each threshold. */
import { assessQuality, isAligned, qualityLevel, QUALITY_THRESHOLDS, validateBars } from '../../marketdata/quality';
import type { Bar } from '../../marketdata/port';
import { bars } from './helpers';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 86_400_000;
/** Tuesday 2024-01-02, NYSE 09:30-16:00 New York = 14:30-21:00 UTC: 390 one-minute bars */
const OPEN = Date.UTC(2024, 0, 2, 14, 30);
const CLOSE = Date.UTC(2024, 0, 2, 21, 0);
const sessionMinutes = (n = 390) => Array.from({ length: n }, (_, i) => OPEN + i * MIN);
const without = (ts: number[], drop: (i: number) => boolean) => ts.filter((_, i) => !drop(i));

describe('validateBars', () => {
  const good = bars(5, OPEN, MIN);

  test('keeps valid bars sorted and counts every kind of reject', () => {
    const input: Bar[] = [
      good[3],
      good[0],
      { ...good[1], low: good[1].high + 1 }, // low above high
      { ...good[2], open: -1 }, // non-positive price
      { ...good[4], volume: -5 }, // negative volume
      { ...good[0], close: good[0].close }, // duplicate time (the first one is kept)
      { ...good[1], ts: good[1].ts + 1_000 }, // not on a minute
      { ...good[2], ts: OPEN + 60 * MIN }, // in the future
      { ...good[2], ts: Number.NaN },
      good[2],
    ];
    const v = validateBars(input, { timeframe: '1m', nowMs: OPEN + 30 * MIN });
    expect(v.bars).toEqual([good[0], good[2], good[3]]);
    expect(v.rejected).toBe(7);
    const reasons = v.rejections.map((r) => r.reason).join('\n');
    expect(reasons).toMatch(/high .* < low/);
    expect(reasons).toMatch(/prices must be positive/);
    expect(reasons).toMatch(/volume must be a number >= 0/);
    expect(reasons).toMatch(/duplicate time/);
    expect(reasons).toMatch(/not aligned to 1m/);
    expect(reasons).toMatch(/in the future/);
    expect(reasons).toMatch(/finite epoch ms/);
  });

  test('alignment: exact up to 30m, a 30-minute grid for 1h/4h/1d (clock- and session-aligned bars, daily stamps)', () => {
    expect(isAligned(OPEN, '1m')).toBe(true);
    expect(isAligned(OPEN + 30_000, '1m')).toBe(false);
    expect(isAligned(OPEN, '5m')).toBe(true);
    expect(isAligned(OPEN + MIN, '5m')).toBe(false);
    expect(isAligned(OPEN, '30m')).toBe(true);
    expect(isAligned(OPEN, '1h')).toBe(true); // session-aligned 09:30
    expect(isAligned(OPEN + 30 * MIN, '1h')).toBe(true); // clock-aligned 10:00
    expect(isAligned(OPEN + 15 * MIN, '1h')).toBe(false);
    expect(isAligned(Date.UTC(2024, 0, 2), '1d')).toBe(true); // midnight UTC
    expect(isAligned(Date.UTC(2024, 0, 2, 5), '1d')).toBe(true); // midnight New York (Alpaca)
    expect(isAligned(Date.UTC(2024, 0, 2, 5, 7), '1d')).toBe(false);
  });
});

describe('qualityLevel (DESIGN.md: missing > 5% WARNING, > 20% ERROR; delay > 5 min WARNING, > 10 min ERROR)', () => {
  test('thresholds are exclusive', () => {
    const { missingWarning, missingError, delayWarningMs, delayErrorMs } = QUALITY_THRESHOLDS;
    expect(qualityLevel(0, 0)).toBe('OK');
    expect(qualityLevel(missingWarning, 0)).toBe('OK');
    expect(qualityLevel(0.0501, 0)).toBe('WARNING');
    expect(qualityLevel(missingError, 0)).toBe('WARNING');
    expect(qualityLevel(0.2001, 0)).toBe('ERROR');
    expect(qualityLevel(0, delayWarningMs)).toBe('OK');
    expect(qualityLevel(0, delayWarningMs + 1)).toBe('WARNING');
    expect(qualityLevel(0, delayErrorMs)).toBe('WARNING');
    expect(qualityLevel(0, delayErrorMs + 1)).toBe('ERROR');
    expect(qualityLevel(0.06, delayErrorMs + 1)).toBe('ERROR'); // the worse one wins
  });
});

describe('assessQuality', () => {
  const full = sessionMinutes(100);
  const range = { timeframe: '1m' as const, fromMs: OPEN, toMs: OPEN + 99 * MIN, nowMs: CLOSE };

  test('complete data is OK', () => {
    expect(assessQuality({ ts: full, ...range })).toEqual({ level: 'OK', missingRate: 0, delayMs: 0, rejected: 0, expected: 100, received: 100 });
  });

  test('missing rate at 5% is OK, above WARNING; at 20% WARNING, above ERROR', () => {
    const q = (gaps: number) => assessQuality({ ts: without(full, (i) => i >= 10 && i < 10 + gaps), ...range, rejected: 2 });
    expect(q(5)).toMatchObject({ level: 'OK', missingRate: 0.05, delayMs: 0, rejected: 2 });
    expect(q(6)).toMatchObject({ level: 'WARNING', missingRate: 0.06 });
    expect(q(20)).toMatchObject({ level: 'WARNING', missingRate: 0.2 });
    expect(q(21)).toMatchObject({ level: 'ERROR', missingRate: 0.21 });
  });

  test('delay (how far the data lags the calendar) at 5 min is OK, above WARNING; at 10 min WARNING, above ERROR', () => {
    const day = sessionMinutes(); // 390 bars, so a few missing at the end stay under 5%
    const q = (lastMissing: number) => assessQuality({ ts: day.slice(0, day.length - lastMissing), timeframe: '1m', fromMs: OPEN, toMs: CLOSE, nowMs: CLOSE + 30_000 });
    expect(q(0)).toMatchObject({ level: 'OK', delayMs: 0 });
    expect(q(5)).toMatchObject({ level: 'OK', delayMs: 5 * MIN });
    expect(q(6)).toMatchObject({ level: 'WARNING', delayMs: 6 * MIN });
    expect(q(10)).toMatchObject({ level: 'WARNING', delayMs: 10 * MIN });
    expect(q(11)).toMatchObject({ level: 'ERROR', delayMs: 11 * MIN });
    expect(q(11).missingRate).toBeLessThan(0.05);
  });

  test('only bars closed by now are expected; nights, weekends and holidays expect nothing', () => {
    // 10:00 New York: 30 bars have closed
    expect(assessQuality({ ts: sessionMinutes(30), timeframe: '1m', fromMs: OPEN, toMs: OPEN + 6 * HOUR, nowMs: OPEN + 30 * MIN + 10_000 })).toMatchObject({
      level: 'OK',
      expected: 30,
    });
    // Friday 2024-01-12 close .. Tuesday 2024-01-16 09:30 (Monday is Martin Luther King Jr. Day): no bars expected
    const fri = Date.UTC(2024, 0, 12, 21, 0);
    const tue = Date.UTC(2024, 0, 16, 14, 30);
    expect(assessQuality({ ts: [], timeframe: '1m', fromMs: fri, toMs: tue - 1, nowMs: tue })).toMatchObject({ level: 'OK', expected: 0, missingRate: 0, delayMs: 0 });
    // nothing received in an open session: all missing, and the delay counts from the first expected bar
    expect(assessQuality({ ts: [], timeframe: '1m', fromMs: OPEN, toMs: CLOSE, nowMs: OPEN + 20 * MIN })).toMatchObject({
      level: 'ERROR',
      missingRate: 1,
      delayMs: 20 * MIN,
    });
  });

  test('daily bars count whatever their time stamp convention; holidays are not missing', () => {
    // week of 2024-01-15 (Monday holiday): sessions Tue..Fri
    const days = [16, 17, 18, 19];
    const fromMs = Date.UTC(2024, 0, 15);
    const toMs = Date.UTC(2024, 0, 19, 23, 59);
    const nowMs = Date.UTC(2024, 0, 20, 12);
    for (const hourUtc of [0, 5, 14.5]) {
      const ts = days.map((d) => Date.UTC(2024, 0, d) + hourUtc * HOUR);
      expect(assessQuality({ ts, timeframe: '1d', fromMs, toMs, nowMs })).toMatchObject({ level: 'OK', expected: 4, received: 4, delayMs: 0 });
    }
    const gap = [16, 18, 19].map((d) => Date.UTC(2024, 0, d, 5));
    expect(assessQuality({ ts: gap, timeframe: '1d', fromMs, toMs, nowMs })).toMatchObject({ level: 'ERROR', missingRate: 0.25 });
  });

  test('clock-aligned hourly bars with extended hours (Alpaca) cover the session-aligned calendar bars', () => {
    const day = Date.UTC(2024, 0, 2);
    const ts = Array.from({ length: 16 }, (_, i) => day + (9 + i) * HOUR); // 04:00..19:00 New York
    expect(assessQuality({ ts, timeframe: '1h', fromMs: day, toMs: day + 86_399_999, nowMs: day + 86_400_000 })).toMatchObject({ level: 'OK', expected: 7, received: 7 });
  });

  test('outside the calendar years the expectation falls back to a continuous grid', () => {
    const t = Date.UTC(1990, 0, 2);
    const ts = Array.from({ length: 90 }, (_, i) => t + i * MIN);
    expect(assessQuality({ ts, timeframe: '1m', fromMs: t, toMs: t + 99 * MIN, nowMs: t + DAY })).toMatchObject({ expected: 100, received: 90, level: 'WARNING' });
  });
});

