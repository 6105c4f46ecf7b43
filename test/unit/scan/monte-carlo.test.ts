import { allocateBars } from '../../../domain/bars';
import { barPaths, blockBootstrapBars } from '../../../domain/scan/bootstrap';
import { distribution, quantile, summarizePaths, tradePaths } from '../../../domain/scan/monte-carlo';
import { parseBacktestSettings } from '../../../domain/backtest/settings';
import { mulberry32, randomWalkBars } from '../../../domain/synthetic';

/** The same Monte Carlo written plainly (the PRNG from domain/synthetic, arrays of numbers), keeping each path. */
function reference(pnl: number[], cash: number, method: 'shuffle' | 'bootstrap', paths: number, seed: number) {
  const rnd = mulberry32(seed);
  const work = pnl.slice();
  const out: Array<{ seq: number[]; final: number; dd: number }> = [];
  for (let p = 0; p < paths; p++) {
    const seq: number[] = [];
    for (let i = pnl.length - 1; i >= 0; i--) {
      const r = rnd();
      if (method === 'shuffle') {
        const j = Math.floor(r * (i + 1));
        [work[i], work[j]] = [work[j], work[i]];
        seq.push(work[i]);
      } else seq.push(pnl[Math.floor(r * pnl.length)]);
    }
    let eq = cash;
    let peak = cash;
    let dd = 0;
    for (const x of seq) {
      eq += x;
      peak = Math.max(peak, eq);
      dd = Math.max(dd, (peak - eq) / peak);
    }
    out.push({ seq, final: eq / cash - 1, dd });
  }
  return out;
}

describe('quantiles and distributions', () => {
  test('linear interpolation between order statistics, by hand', () => {
    const s = [1, 2, 3, 4, 5];
    expect(quantile(s, 0.05)).toBeCloseTo(1.2, 12); // h = 4 * 0.05 = 0.2
    expect(quantile(s, 0.5)).toBe(3);
    expect(quantile(s, 0.95)).toBeCloseTo(4.8, 12); // h = 3.8
    expect(quantile([7], 0.95)).toBe(7);
    expect(distribution(Float64Array.from([5, 1, 4, 2, 3]))).toEqual({ p5: quantile(s, 0.05), p50: 3, p95: quantile(s, 0.95), mean: 3, min: 1, max: 5 });
  });
});

describe('trade Monte Carlo', () => {
  test('two trades by hand: a shuffle only reorders them, a bootstrap redraws them', () => {
    // +100 then -200 from 1000: 1100, 900 -> drawdown 200/1100; -200 then +100: 800, 900 -> drawdown 200/1000
    const pnl = Float64Array.from([100, -200]);
    const shuffle = tradePaths(pnl, 1000, 'shuffle', 400, 5);
    expect(new Set(shuffle.finalReturn)).toEqual(new Set([900 / 1000 - 1]));
    expect(new Set(shuffle.maxDrawdown)).toEqual(new Set([200 / 1100, 0.2]));
    const s = summarizePaths(shuffle, 0.05);
    expect(s.probLossAbove).toBe(1); // -10 % < -5 % on every path
    expect(summarizePaths(shuffle, 0.1).probLossAbove).toBe(0); // -10 % is not a loss of more than 10 %
    expect(summarizePaths(shuffle, 0.19).probDrawdownAbove).toBeGreaterThan(0.4);
    expect(summarizePaths(shuffle, 0.19).probDrawdownAbove).toBeLessThan(0.6);
    // bootstrap: (+100, +100) +20 %, dd 0; (+100, -200) and (-200, +100) -10 %; (-200, -200) -40 %, dd 400/1000
    const boot = tradePaths(pnl, 1000, 'bootstrap', 4000, 5);
    expect(new Set(Array.from(boot.finalReturn).map((x) => x.toFixed(9)))).toEqual(new Set(['0.200000000', '-0.100000000', '-0.400000000']));
    const b = summarizePaths(boot, 0.3);
    expect(b.finalReturn.min).toBeCloseTo(-0.4, 12);
    expect(b.finalReturn.max).toBeCloseTo(0.2, 12);
    expect(b.maxDrawdown.max).toBeCloseTo(0.4, 12);
    expect(b.probLossAbove).toBeGreaterThan(0.2); // P(-40 %) = 1/4
    expect(b.probLossAbove).toBeLessThan(0.3);
  });

  test('equals the plain reference; every shuffle is a permutation of the trades (the multiset is kept)', () => {
    const rnd = mulberry32(99);
    const pnl = Array.from({ length: 57 }, () => Math.round((rnd() - 0.45) * 2000) / 10);
    const sorted = pnl.slice().sort((a, b) => a - b);
    for (const method of ['shuffle', 'bootstrap'] as const) {
      const ours = tradePaths(Float64Array.from(pnl), 5000, method, 300, 12);
      const ref = reference(pnl, 5000, method, 300, 12);
      expect(Array.from(ours.finalReturn)).toEqual(ref.map((r) => r.final));
      expect(Array.from(ours.maxDrawdown)).toEqual(ref.map((r) => r.dd));
      if (method === 'shuffle') for (const r of ref) expect(r.seq.slice().sort((a, b) => a - b)).toEqual(sorted);
    }
  });

  test('properties: the same seed gives the same paths, quantiles are ordered', () => {
    for (const seed of [1, 2, 3]) {
      const rnd = mulberry32(seed);
      const pnl = Float64Array.from({ length: 200 }, () => (rnd() - 0.5) * 100);
      const a = tradePaths(pnl, 10_000, 'bootstrap', 500, seed);
      expect(tradePaths(pnl, 10_000, 'bootstrap', 500, seed)).toEqual(a);
      expect(tradePaths(pnl, 10_000, 'bootstrap', 500, seed + 100)).not.toEqual(a);
      for (const d of [summarizePaths(a, 0.01).finalReturn, summarizePaths(a, 0.01).maxDrawdown]) {
        expect(d.min).toBeLessThanOrEqual(d.p5);
        expect(d.p5).toBeLessThanOrEqual(d.p50);
        expect(d.p50).toBeLessThanOrEqual(d.p95);
        expect(d.p95).toBeLessThanOrEqual(d.max);
      }
      const sum = pnl.reduce((x, y) => x + y, 0);
      for (const r of tradePaths(pnl, 10_000, 'shuffle', 50, seed).finalReturn) expect(r).toBeCloseTo(sum / 10_000, 12);
    }
  });

  test('no trades: flat paths', () => {
    const s = summarizePaths(tradePaths(new Float64Array(0), 1000, 'bootstrap', 10, 1), 0.1);
    expect(s.finalReturn).toEqual({ p5: 0, p50: 0, p95: 0, mean: 0, min: 0, max: 0 });
    expect(s.probLossAbove).toBe(0);
  });
});

describe('block bootstrap of bars', () => {
  const src = randomWalkBars(300, { seed: 4, halfRange: 0.01 });

  test('one block from bar 1 rebuilds the series; moves come in consecutive, wrapping blocks', () => {
    const out = allocateBars(300);
    blockBootstrapBars(src, 299, () => 0, out);
    for (let i = 0; i < 300; i++) expect(out.close[i] / src.close[i]).toBeCloseTo(1, 10);
    // blocks of 3 all starting at 1 + floor(0.5 * 299) = 150: moves 150, 151, 152, 150, 151, 152, ...
    blockBootstrapBars(src, 3, () => 0.5, out);
    for (let i = 1; i < 300; i++) {
      const q = 150 + ((i - 1) % 3);
      expect(out.close[i] / out.close[i - 1]).toBeCloseTo(src.close[q] / src.close[q - 1], 12);
      expect(out.high[i] / out.close[i - 1]).toBeCloseTo(src.high[q] / src.close[q - 1], 12);
    }
    // a block that runs off the end wraps to bar 1
    blockBootstrapBars(src, 5, () => 297.5 / 299, out); // start 298: moves 298, 299, 1, 2, 3
    expect([2, 3, 4].map((i) => +(out.close[i] / out.close[i - 1]).toFixed(12))).toEqual([299, 1, 2].map((q) => +(src.close[q] / src.close[q - 1]).toFixed(12)));
  });

  test('bars stay valid and the same seed gives the same paths', () => {
    const out = allocateBars(300);
    blockBootstrapBars(src, 20, mulberry32(8), out);
    for (let i = 0; i < 300; i++) {
      expect(out.high[i]).toBeGreaterThanOrEqual(Math.max(out.open[i], out.close[i]));
      expect(out.low[i]).toBeLessThanOrEqual(Math.min(out.open[i], out.close[i]));
      expect(out.low[i]).toBeGreaterThan(0);
      expect(out.ts[i]).toBe(src.ts[i]);
    }
    const settings = parseBacktestSettings({ strategy: 'sma-cross', params: { period: 10 }, quantity: 10 });
    const a = barPaths(src, settings, 20, 30, 3);
    expect(barPaths(src, settings, 20, 30, 3)).toEqual(a);
    expect(new Set(a.finalReturn).size).toBeGreaterThan(20);
  });
});
