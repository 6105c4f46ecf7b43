import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { screenBars, ScreenStream } from '../../domain/bar-screen';
import { allocateBars, appendBar, sliceBars, type BarColumns } from '../../domain/bars';
import { parseOhlcvCsv } from '../../domain/csv';
import { findPriceOutliers, OUTLIER_FACTOR, outlierReason } from '../../domain/price-outliers';
import { SHARED_DATA } from '../helpers/stack';

const DAY = 86_400_000;
const T0 = Date.UTC(2020, 0, 1);

/** Daily bars from closes (open = close, high/low 1 % around it unless given). */
function bars(closes: number[], overrides: Record<number, Partial<{ open: number; high: number; low: number }>> = {}): BarColumns {
  const b = allocateBars(closes.length);
  closes.forEach((c, i) => {
    const o = overrides[i] ?? {};
    appendBar(b, { ts: T0 + i * DAY, open: o.open ?? c, high: o.high ?? Math.max(c, o.open ?? c) * 1.01, low: o.low ?? Math.min(c, o.open ?? c) * 0.99, close: c, volume: 100 });
  });
  return b;
}

const tens = (n: number) => Array.from({ length: n }, (_, i) => 10 + (i % 3) * 0.1);

describe('findPriceOutliers', () => {
  test('a close at 1e15 among closes near 10 is an outlier, with a reason naming the price and the reference', () => {
    const closes = tens(21);
    closes[10] = 1e15;
    const found = findPriceOutliers(bars(closes));
    expect(found).toEqual([{ index: 10, field: 'close', price: 1e15, reference: expect.closeTo(10.1, 1) }]);
    expect(outlierReason(found[0])).toMatch(/^price outlier: close 1e\+15 is .*x above the median close of its neighbours \(10\.1\d*; limit 10x\)$/);
  });

  test('one bad field is enough: a high at 1e15 over an otherwise normal bar; a low 50x below', () => {
    const found = findPriceOutliers(bars(tens(21), { 5: { high: 1e15 }, 15: { low: 0.2 } }));
    expect(found.map((o) => [o.index, o.field])).toEqual([
      [5, 'high'],
      [15, 'low'],
    ]);
  });

  test('two bad bars side by side are both found (the median of five neighbours ignores them)', () => {
    const closes = tens(30);
    closes[12] = 1e6;
    closes[13] = 2e6;
    expect(findPriceOutliers(bars(closes)).map((o) => o.index)).toEqual([12, 13]);
  });

  test('at either end of the file, one side is enough', () => {
    const closes = tens(12);
    closes[0] = 5000;
    closes[11] = 0.001;
    expect(findPriceOutliers(bars(closes)).map((o) => o.index)).toEqual([0, 11]);
  });

  test('just inside the factor is not an outlier; just outside is', () => {
    const closes = tens(21).map(() => 10);
    closes[10] = 10 * OUTLIER_FACTOR * 0.99;
    expect(findPriceOutliers(bars(closes))).toEqual([]);
    closes[10] = 10 * OUTLIER_FACTOR * 1.02;
    expect(findPriceOutliers(bars(closes)).map((o) => o.index)).toEqual([10]);
  });

  test.each([
    ['a 1:20 reverse split (10 -> 200) in unadjusted prices', 200],
    ['a 20:1 split (10 -> 0.5)', 0.5],
    ['a 1000x re-denomination', 10_000],
  ])('%s is a level shift, not an outlier', (_name, level) => {
    const closes = [...tens(15), ...tens(15).map((c) => (c * level) / 10)];
    expect(findPriceOutliers(bars(closes))).toEqual([]);
  });

  test('files too short to judge are not judged', () => {
    expect(findPriceOutliers(bars([10, 1e15, 10]))).toEqual([]);
  });

  test.each(readdirSync(SHARED_DATA).filter((f) => f.endsWith('.txt')))('real data: %s has no outlier', (file) => {
    const parsed = parseOhlcvCsv(readFileSync(path.join(SHARED_DATA, file), 'utf8'));
    expect(parsed.bars.length).toBeGreaterThan(200);
    expect(findPriceOutliers(parsed.bars)).toEqual([]);
  });
});

describe('screenBars (after parsing: future bars, then outliers)', () => {
  const csv = (rows: string[]) => parseOhlcvCsv(['Date,Open,High,Low,Close,Volume', ...rows].join('\n'));
  const row = (day: number, c: number) => `${new Date(T0 + day * DAY).toISOString().slice(0, 10)},${c},${c * 1.01},${c * 0.99},${c},100`;

  test('rejects bars after notAfter and outliers, by line, and keeps the rest aligned with their lines', () => {
    const rows = Array.from({ length: 20 }, (_, d) => row(d, 10));
    rows[7] = row(7, 1e15); // line 9
    const parsed = csv(rows);
    const notAfter = T0 + 17.5 * DAY; // days 18 and 19 (lines 20, 21) are in the future
    const r = screenBars(parsed.bars, parsed.lines, { notAfter });
    expect({ future: r.future, outliers: r.outliers, kept: r.bars.length }).toEqual({ future: 2, outliers: 1, kept: 17 });
    expect(r.rejections.map((x) => x.line)).toEqual([9, 20, 21]);
    expect(r.rejections[0].reason).toMatch(/^price outlier: close 1e\+15/);
    expect(r.rejections[1].reason).toBe(`dated in the future: ${new Date(T0 + 18 * DAY).toISOString()} is after ${new Date(notAfter).toISOString()}`);
    expect(Array.from(r.lines)).toEqual([2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(Math.max(...r.bars.close)).toBe(10);
    expect(r.bars.ts[r.bars.length - 1]).toBe(T0 + 17 * DAY);
  });

  test('a clean file comes back as it was (no copy), with nothing rejected', () => {
    const parsed = csv(Array.from({ length: 10 }, (_, d) => row(d, 10 + d)));
    const r = screenBars(parsed.bars, parsed.lines, { notAfter: T0 + 100 * DAY });
    expect(r).toEqual({ bars: parsed.bars, lines: parsed.lines, future: 0, outliers: 0, rejections: [] });
    expect(r.bars).toBe(parsed.bars);
  });

  test('samples are capped, ascending by line', () => {
    const parsed = csv(Array.from({ length: 30 }, (_, d) => row(d, 10)));
    const r = screenBars(parsed.bars, parsed.lines, { notAfter: T0 - DAY, maxRejectionSamples: 5 });
    expect(r.future).toBe(30);
    expect(r.bars.length).toBe(0);
    expect(r.rejections.map((x) => x.line)).toEqual([2, 3, 4, 5, 6]);
  });
});

describe('ScreenStream (bars judged as they are parsed) gives the verdicts of screening them all at once', () => {
  /** mulberry32 */
  const rng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  /** A walk with spikes (some side by side, some at the ends) and a future tail of `future` bars. */
  function series(n: number, seed: number): BarColumns {
    const r = rng(seed);
    const closes = Array.from({ length: n }, (_, i) => 10 + Math.sin(i / 7) + r());
    for (let k = 0; k < n / 15; k++) closes[Math.floor(r() * n)] *= r() < 0.5 ? 1e3 : 1e-3;
    closes[0] *= 1e4;
    closes[n - 1] *= 1e4;
    return bars(closes);
  }

  /** The reference: future bars are the tail after notAfter; outliers by findPriceOutliers over the rest. */
  function reference(b: BarColumns, notAfter: number) {
    let present = 0;
    while (present < b.length && b.ts[present] <= notAfter) present++;
    return { present, outliers: findPriceOutliers(sliceBars(b, 0, present)).map((o) => o.index) };
  }

  test.each([
    [200, 1, 40],
    [200, 2, 0],
    [97, 3, 3],
    [60, 4, 60],
    [3, 5, 0],
    [12, 6, 1],
  ])('%i bars (seed %i), %i of them in the future, fed in random cuts', (n, seed, future) => {
    const b = series(n, seed);
    const lines = Int32Array.from({ length: n }, (_, i) => i + 2);
    const notAfter = T0 + (n - future - 1) * DAY + DAY / 2;
    const ref = reference(b, notAfter);
    expect(ref.present).toBe(n - future);
    if (ref.present > 20) expect(ref.outliers.length).toBeGreaterThan(3);
    const all = screenBars(b, lines, { notAfter, maxRejectionSamples: 7 });

    for (let trial = 0; trial < 20; trial++) {
      const r = rng(seed * 100 + trial);
      const stream = new ScreenStream({ notAfter, maxRejectionSamples: 7 });
      let judgedTo = 0;
      const outliers: number[] = [];
      for (let seen = 0; seen < n; ) {
        seen = Math.min(n, seen + 1 + Math.floor(r() * (trial % 2 ? 3 : 30)));
        const j = stream.next(sliceBars(b, 0, seen), lines.subarray(0, seen), seen === n);
        expect(j.from).toBe(judgedTo);
        expect(j.to).toBeGreaterThanOrEqual(j.from);
        // a verdict is given only once the bars it reads are known
        // (the OUTLIER_WINDOW bars after it, or a future bar after it: a future bar ends the series it is judged in)
        if (seen < n) expect(j.to).toBeLessThanOrEqual(Math.max(j.from, seen > ref.present ? ref.present : seen - 5));
        outliers.push(...j.outliers);
        judgedTo = j.to;
      }
      expect(judgedTo).toBe(ref.present);
      expect(outliers).toEqual(ref.outliers);
      expect(stream.result()).toEqual({ future: all.future, outliers: all.outliers, rejections: all.rejections });
    }
    expect(all.future).toBe(future);
    expect(all.outliers).toBe(ref.outliers.length);
  });

  test('result() before the final next() is an error', () => {
    const stream = new ScreenStream({ notAfter: T0 });
    stream.next(bars(tens(3)), Int32Array.of(2, 3, 4), false);
    expect(() => stream.result()).toThrow(/before the final next/);
  });
});
