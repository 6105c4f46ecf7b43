import { ExactSum, exactSum } from '../../domain/exact-sum';
import { atr, ema, rsi, sma } from '../../domain/indicators';
import { mulberry32, randomWalkBars } from '../../domain/synthetic';
import { referenceSma, referenceSum } from './exact-reference';

describe('ExactSum', () => {
  test("CPython's math.fsum cases, including the half-way rounding ones", () => {
    const cases: Array<[number[], number]> = [
      [[], 0],
      [[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 1], // a naive sum gives 0.9999999999999999
      [[1e100, 1, -1e100, 1e-100, 1e50, -1, -1e50], 1e-100],
      [[2 ** 53, -0.5, -(2 ** -54)], 2 ** 53 - 1],
      [[2 ** 53, 1, 2 ** -100], 2 ** 53 + 2],
      [[2 ** 53 + 10, 1, 2 ** -100], 2 ** 53 + 12],
      [[2 ** 53 - 4, 0.5, 2 ** -54], 2 ** 53 - 3],
    ];
    for (const [xs, expected] of cases) {
      const s = new ExactSum();
      for (const x of xs) s.add(x);
      expect(s.value()).toBe(expected);
    }
  });

  test('a running window sum equals the exact window sum on every bar of a long series (no drift)', () => {
    const rnd = mulberry32(11);
    const n = 50_000;
    const xs = new Float64Array(n);
    for (let i = 0; i < n; i++) xs[i] = Math.round(rnd() * 1e6) / 100 + 0.01; // whole cents, 0.01 .. 10000
    const s = new ExactSum();
    const p = 37;
    for (let i = 0; i < n; i++) {
      s.add(xs[i]);
      if (i >= p) s.add(-xs[i - p]);
      if (i >= p - 1 && i % 97 === 0) expect(s.value()).toBe(referenceSum(xs, i - p + 1, i + 1));
    }
    expect(exactSum(xs, 100, 200)).toBe(referenceSum(xs, 100, 200));
  });
});

describe('indicators sum their windows exactly', () => {
  const cents = (() => {
    const rnd = mulberry32(5);
    const out = new Float64Array(20_000);
    let k = 10_000;
    for (let i = 0; i < out.length; i++) {
      k += rnd() < 0.5 ? -1 : 1;
      out[i] = k / 100;
    }
    return out;
  })();

  test('sma equals fl(exact window sum) / period bit for bit, where a running sum is off', () => {
    for (const p of [2, 3, 10, 30]) {
      const ours = sma(cents, p, new Float64Array(cents.length));
      const ref = referenceSma(cents, p);
      expect(Array.from(ours)).toEqual(Array.from(ref));
      // the plain running sum this replaced differs from the exact value on some bars
      let sum = 0;
      let off = 0;
      for (let i = 0; i < cents.length; i++) {
        sum += cents[i];
        if (i >= p) sum -= cents[i - p];
        if (i >= p - 1 && sum / p !== ref[i]) off++;
      }
      expect(off).toBeGreaterThan(0);
    }
  });

  test('ema, rsi and atr seeds are exact means', () => {
    const w = randomWalkBars(100, { seed: 3 });
    const p = 10;
    expect(ema(w.close, p, new Float64Array(100))[p - 1]).toBe(referenceSum(w.close, 0, p) / p);
    const changes = Array.from({ length: p }, (_, k) => w.close[k + 1] - w.close[k]);
    const gains = changes.map((c) => Math.max(c, 0));
    const losses = changes.map((c) => Math.max(-c, 0));
    const g = referenceSum(gains) / p;
    const l = referenceSum(losses) / p;
    expect(rsi(w.close, p, new Float64Array(100))[p]).toBe(l === 0 ? 100 : 100 - 100 / (1 + g / l));
    const tr = Array.from({ length: p }, (_, k) => {
      const i = k + 1;
      return Math.max(w.high[i] - w.low[i], w.high[i] - w.close[i - 1], w.close[i - 1] - w.low[i]);
    });
    expect(atr(w.high, w.low, w.close, p, new Float64Array(100))[p]).toBe(referenceSum(tr) / p);
  });
});
