import { parseBacktestSettings } from '../../../domain/backtest/settings';
import { runBacktest } from '../../../domain/backtest/engine';
import { barPaths, blockBootstrapBars } from '../../../domain/scan/bootstrap';
import { FAN_MAX_PATHS, FanRecorder, fanSteps, histogram, tradeFan } from '../../../domain/scan/charts';
import { quantile, tradePaths } from '../../../domain/scan/monte-carlo';
import { allocateBars } from '../../../domain/bars';
import { mulberry32, randomWalkBars } from '../../../domain/synthetic';

describe('histogram', () => {
  test('ten values in five bins, by hand', () => {
    // range [0, 9], width 1.8: bins [0,1.8) [1.8,3.6) [3.6,5.4) [5.4,7.2) [7.2,9]
    const h = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5);
    expect(h).toEqual({ from: 0, to: 9, width: 1.8, counts: [2, 2, 2, 2, 2], below: 0, above: 0 });
    expect(histogram([3, 1, 1, 1, 2], 2)).toEqual({ from: 1, to: 3, width: 1, counts: [3, 2], below: 0, above: 0 }); // 2 and 3 in the last bin
  });

  test('a far outlier is counted beyond the fence, not stretching the bins', () => {
    // quartiles of 1..8 and 1000: q1 = 3, q3 = 7, fence 7 + 3 * 4 = 19
    const h = histogram([1, 2, 3, 4, 5, 6, 7, 8, 1000], 4);
    expect(h).toMatchObject({ from: 1, to: 19, width: 4.5, below: 0, above: 1 });
    expect(h.counts).toEqual([5, 3, 0, 0]); // [1, 5.5): 1..5; [5.5, 10): 6, 7, 8
    expect(h.counts.reduce((a, b) => a + b) + h.below + h.above).toBe(9);
  });

  test('equal values (a shuffle\'s final returns, equal up to rounding) are one bin; no values, no bins', () => {
    expect(histogram([0.2, 0.2 + 1e-16, 0.2 - 1e-16])).toMatchObject({ counts: [3], below: 0, above: 0 });
    expect(histogram([])).toEqual({ from: 0, to: 0, width: 0, counts: [], below: 0, above: 0 });
  });
});

describe('fan', () => {
  test('steps: both ends, at most the points asked, distinct', () => {
    expect(fanSteps(4, 100)).toEqual([0, 1, 2, 3, 4]);
    expect(fanSteps(10, 4)).toEqual([0, 3, 5, 8, 10]); // 2.5 rounds to 3, 7.5 to 8
    expect(fanSteps(0)).toEqual([0]);
    const long = fanSteps(999_999);
    expect(long).toHaveLength(101);
    expect(long[100]).toBe(999_999);
  });

  test('quantiles across paths at each step, by hand', () => {
    const rec = new FanRecorder([0, 1], 5);
    [10, 20, 30, 40, 50].forEach((v, p) => {
      rec.set(p, 0, 100);
      rec.set(p, 1, v);
    });
    const fan = rec.fan('trade', [0, 1]);
    expect(fan).toEqual({ axis: 'trade', paths: 5, x: [0, 1], p5: [100, 12], p25: [100, 20], p50: [100, 30], p75: [100, 40], p95: [100, 48] });
  });

  test.each(['shuffle', 'bootstrap'] as const)('%s: the fan redraws the very paths tradePaths draws (last step = final equity)', (method) => {
    const rnd = mulberry32(11);
    const pnl = Float64Array.from({ length: 250 }, () => (rnd() - 0.45) * 100);
    const cash = 10_000;
    const fan = tradeFan(pnl, cash, method, 800, 21);
    expect(fan.x).toEqual(fanSteps(250));
    expect(fan.paths).toBe(800);
    const finals = Float64Array.from(tradePaths(pnl, cash, method, 800, 21).finalReturn, (r) => cash * (1 + r)).sort();
    const last = fan.x.length - 1;
    for (const [q, p] of [[fan.p5, 0.05], [fan.p50, 0.5], [fan.p95, 0.95]] as const) expect(q[last]).toBeCloseTo(quantile(finals, p), 6);
    expect(fan.p5[0]).toBe(cash);
    expect(fan.p95[0]).toBe(cash);
    for (let s = 0; s <= last; s++) {
      expect(fan.p5[s]).toBeLessThanOrEqual(fan.p25[s]);
      expect(fan.p25[s]).toBeLessThanOrEqual(fan.p50[s]);
      expect(fan.p50[s]).toBeLessThanOrEqual(fan.p75[s]);
      expect(fan.p75[s]).toBeLessThanOrEqual(fan.p95[s]);
    }
    if (method === 'shuffle') expect(fan.p95[last] - fan.p5[last]).toBeLessThan(1e-6); // same trades, every order: one end
    else expect(fan.p95[last] - fan.p5[last]).toBeGreaterThan(100);
  });

  test('the trade fan is over the first FAN_MAX_PATHS paths at most, and matches a plain replay by hand', () => {
    expect(tradeFan(Float64Array.from([1, -1]), 100, 'bootstrap', FAN_MAX_PATHS * 3, 1).paths).toBe(FAN_MAX_PATHS);
    // one bootstrap path of 2 draws from [+10, -5]: the same two draws of mulberry32(3) by hand
    const rnd = mulberry32(3);
    const a = [10, -5][Math.floor(rnd() * 2)];
    const b = [10, -5][Math.floor(rnd() * 2)];
    expect(tradeFan(Float64Array.from([10, -5]), 100, 'bootstrap', 1, 3)).toMatchObject({ x: [0, 1, 2], p50: [100, 100 + a, 100 + a + b] });
  });

  test('block bootstrap: each marked path\'s equity at the steps is its own backtest\'s', () => {
    const src = randomWalkBars(300, { seed: 4, halfRange: 0.01 });
    const settings = parseBacktestSettings({ strategy: 'sma-cross', params: { period: 10 }, quantity: 10 });
    const steps = fanSteps(299, 10);
    const rec = new FanRecorder(steps, 3);
    const stats = barPaths(src, settings, 20, 5, 9, undefined, rec);
    expect(barPaths(src, settings, 20, 5, 9)).toEqual(stats); // recording changes nothing
    // path 1 again by hand: the same PRNG draws, path 0's first
    const rnd = mulberry32(9);
    const path = allocateBars(300);
    blockBootstrapBars(src, 20, rnd, path);
    blockBootstrapBars(src, 20, rnd, path);
    const curve = runBacktest(path, settings).equityCurve; // 300 bars <= 500 points: every bar
    expect(steps.map((_, s) => rec.marks[1 * steps.length + s])).toEqual(steps.map((i) => curve[i].equity));
    expect(rec.marks[steps.length - 1] / settings.initialCash - 1).toBeCloseTo(stats.finalReturn[0], 12);
  });
});
