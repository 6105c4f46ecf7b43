import { CrossoverDetector, crossovers } from '../../domain/crossover';
import { atr, ema, rollingMax, rollingMin, rsi, sma } from '../../domain/indicators';
import { mulberry32, randomWalkBars } from '../../domain/synthetic';

const walk = randomWalkBars(500, { seed: 7 });
const close = walk.close.slice(0, walk.length);
const n = close.length;

function naiveSma(src: Float64Array, p: number): number[] {
  return Array.from(src, (_, i) => (i < p - 1 ? NaN : src.slice(i - p + 1, i + 1).reduce((a, b) => a + b, 0) / p));
}

function expectClose(actual: Float64Array, expected: number[], digits = 9) {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    if (Number.isNaN(e)) expect(actual[i]).toBeNaN();
    else expect(actual[i]).toBeCloseTo(e, digits);
  });
}

describe('sma / ema', () => {
  test('sma equals the windowed mean, NaN during warm-up', () => {
    for (const p of [1, 3, 10, 30]) expectClose(sma(close, p, new Float64Array(n)), naiveSma(close, p));
  });

  test('sma on a hand series', () => {
    const out = sma(Float64Array.from([1, 2, 3, 4, 5]), 3, new Float64Array(5));
    expect(Array.from(out)).toEqual([NaN, NaN, 2, 3, 4]);
  });

  test('ema is seeded with the sma and then smoothed with alpha = 2 / (p + 1)', () => {
    const src = Float64Array.from([2, 4, 6, 8, 10, 12]);
    const out = ema(src, 3, new Float64Array(6));
    // seed (2+4+6)/3 = 4; alpha 0.5: 6, 8, 10
    expect(Array.from(out)).toEqual([NaN, NaN, 4, 6, 8, 10]);
  });

  test('rejects bad periods and short outputs', () => {
    expect(() => sma(close, 0, new Float64Array(n))).toThrow(/period/);
    expect(() => sma(close, 2.5, new Float64Array(n))).toThrow(/period/);
    expect(() => sma(close, 5, new Float64Array(3))).toThrow(/output/);
  });
});

describe('rsi (Wilder)', () => {
  function naiveRsi(src: Float64Array, p: number): number[] {
    const out: number[] = [NaN];
    let g = 0;
    let l = 0;
    for (let i = 1; i < src.length; i++) {
      const ch = src[i] - src[i - 1];
      const up = Math.max(ch, 0);
      const down = Math.max(-ch, 0);
      if (i < p) {
        g += up;
        l += down;
        out.push(NaN);
        continue;
      }
      if (i === p) {
        g = (g + up) / p;
        l = (l + down) / p;
      } else {
        g = (g * (p - 1) + up) / p;
        l = (l * (p - 1) + down) / p;
      }
      out.push(l === 0 ? (g === 0 ? 50 : 100) : 100 - 100 / (1 + g / l));
    }
    return out;
  }

  test('matches the Wilder recurrence; first value at index period', () => {
    const out = rsi(close, 14, new Float64Array(n));
    expectClose(out, naiveRsi(close, 14));
    expect(out[13]).toBeNaN();
    expect(out[14]).not.toBeNaN();
  });

  test('hand case: only gains is 100, only losses is 0, a flat series is 50', () => {
    expect(rsi(Float64Array.from([1, 2, 3, 4]), 2, new Float64Array(4))[3]).toBe(100);
    expect(rsi(Float64Array.from([4, 3, 2, 1]), 2, new Float64Array(4))[3]).toBe(0);
    expect(rsi(Float64Array.from([5, 5, 5, 5]), 2, new Float64Array(4))[3]).toBe(50);
    // changes +2, -1: avg gain 1, avg loss 0.5 -> RS 2 -> 66.67
    expect(rsi(Float64Array.from([10, 12, 11]), 2, new Float64Array(3))[2]).toBeCloseTo(200 / 3, 10);
  });
});

describe('atr (Wilder)', () => {
  test('hand case with gaps', () => {
    const high = Float64Array.from([10, 12, 11, 15]);
    const low = Float64Array.from([9, 10, 8, 13]);
    const cl = Float64Array.from([9.5, 11, 9, 14]);
    // TR1 = max(2, |12-9.5|, |10-9.5|) = 2.5; TR2 = max(3, 0, 3) = 3; TR3 = max(2, 6, 4) = 6
    const out = atr(high, low, cl, 2, new Float64Array(4));
    expect(out[0]).toBeNaN();
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeCloseTo((2.5 + 3) / 2, 12);
    expect(out[3]).toBeCloseTo((2.75 * 1 + 6) / 2, 12);
  });
});

describe('rollingMax / rollingMin over the previous N bars', () => {
  test('exclude the current bar and match a naive scan on random data', () => {
    const rnd = mulberry32(3);
    const src = Float64Array.from({ length: 400 }, () => Math.round(rnd() * 50));
    for (const p of [1, 2, 5, 20]) {
      const mx = rollingMax(src, p, new Float64Array(400));
      const mn = rollingMin(src, p, new Float64Array(400));
      for (let i = 0; i < 400; i++) {
        if (i < p) {
          expect(mx[i]).toBeNaN();
          expect(mn[i]).toBeNaN();
        } else {
          const win = Array.from(src.slice(i - p, i));
          expect(mx[i]).toBe(Math.max(...win));
          expect(mn[i]).toBe(Math.min(...win));
        }
      }
    }
  });

  test('hand case', () => {
    const out = rollingMax(Float64Array.from([1, 5, 2, 3, 9, 0]), 2, new Float64Array(6));
    expect(Array.from(out)).toEqual([NaN, NaN, 5, 5, 3, 9]);
  });
});

describe('crossover rule', () => {
  const cross = (d: number[]) => Array.from(crossovers(Float64Array.from(d), new Int8Array(d.length)));

  test('a sign change is a cross on the bar where the difference turns', () => {
    expect(cross([-1, 1])).toEqual([0, 1]);
    expect(cross([1, -1])).toEqual([0, -1]);
    expect(cross([-2, -1, 3, 4, -5])).toEqual([0, 0, 1, 0, -1]);
  });

  test('touch and return: 0 then back to the same sign is no cross', () => {
    expect(cross([-1, 0, -1])).toEqual([0, 0, 0]);
    expect(cross([1, 0, 0, 2])).toEqual([0, 0, 0, 0]);
  });

  test('through zero with intermediate zeros: one cross, on the first non-zero bar of the other sign', () => {
    expect(cross([-1, 0, 0, 2])).toEqual([0, 0, 0, 1]);
    expect(cross([3, 0, 0, 0, -1, -2])).toEqual([0, 0, 0, 0, -1, 0]);
  });

  test('no cross without an earlier non-zero difference; NaN (warm-up) is ignored', () => {
    expect(cross([1, 2])).toEqual([0, 0]);
    expect(cross([0, 0, 1])).toEqual([0, 0, 0]);
    expect(cross([NaN, -1, NaN, 1])).toEqual([0, 0, 0, 1]);
  });

  test('the streaming detector gives the same answers', () => {
    const rnd = mulberry32(11);
    const d = Array.from({ length: 300 }, () => [-1, 0, 1][Math.floor(rnd() * 3)] * rnd());
    const det = new CrossoverDetector();
    expect(d.map((x) => det.update(x))).toEqual(cross(d));
  });
});
