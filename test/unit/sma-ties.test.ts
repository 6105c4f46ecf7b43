import { runBacktest } from '../../domain/backtest/engine';
import { allocateBars, appendBar, sliceBars, type BarColumns } from '../../domain/bars';
import { crossovers } from '../../domain/crossover';
import { createStrategy, type SmaCrossStrategy } from '../../domain/strategies';
import { mulberry32 } from '../../domain/synthetic';
import { referenceSma } from './exact-reference';
import { settings, tradeBars } from './fixtures';

/**
 * The engine must agree with exact arithmetic (issue 12): where the close exactly equals its SMA, the crossover
 * fires on the bar a peer that sums each window exactly (math.fsum) gets, however long the series.
 *
 * Fixture: 200,000 one-minute bars of whole cents (a random walk of 0.01 ticks: many exact ties of their own),
 * then a tail in binary-exact quarters where every tie is exact in any arithmetic, so the only thing that can
 * move a tie off zero is what a running sum carried in from the first 200,000 bars:
 *   settle flat at 100 (a tie), then a down-up pattern:   100 99 98 [99] 100  the bracketed bar is a tie;
 *   and an up-down pattern:                               100 101 102 [101] 100
 * Exact arithmetic crosses on the bar after each tie and never on a flat stretch; a running sum that drifted
 * high (or low) crosses on the tie itself, one bar early, in one of the two patterns, and on flat stretches.
 */
const PERIOD = 4;
const PREFIX = 200_000;
const TAIL = [100, 100, 100, 100, 100, 99, 98, 99, 100, 100, 100, 100, 100, 101, 102, 101, 100, 100, 100, 100];
const DOWN_UP_TIE = PREFIX + 7;
const UP_DOWN_TIE = PREFIX + 15;

function fixture(): BarColumns {
  const n = PREFIX + TAIL.length;
  const rnd = mulberry32(1);
  const b = allocateBars(n);
  let ticks = 10_000;
  for (let i = 0; i < n; i++) {
    let px: number;
    if (i < PREFIX) {
      const r = rnd();
      ticks += r < 0.45 ? -1 : r < 0.9 ? 1 : 0; // 10 % of bars unchanged
      ticks = Math.min(15_000, Math.max(5_000, ticks));
      px = ticks / 100;
    } else px = TAIL[i - PREFIX];
    appendBar(b, { ts: Date.UTC(2024, 0, 1) + i * 60_000, open: px, high: px, low: px, close: px, volume: 1 });
  }
  return b;
}

/** The sma-cross column the strategy had before: one running sum per SMA, never re-based. */
function runningSumCrosses(c: Float64Array, n: number, fast: number, slow: number): Int8Array {
  const cross = new Int8Array(n);
  let sf = 0;
  let ss = 0;
  for (let i = 0; i < slow; i++) {
    ss += c[i];
    if (i >= slow - fast) sf += c[i];
  }
  let d = sf * slow - ss * fast;
  let last = d > 0 ? 1 : d < 0 ? -1 : 0;
  for (let i = slow; i < n; i++) {
    sf += c[i] - c[i - fast];
    ss += c[i] - c[i - slow];
    d = sf * slow - ss * fast;
    if (d > 0) {
      if (last < 0) cross[i] = 1;
      last = 1;
    } else if (d < 0) {
      if (last > 0) cross[i] = -1;
      last = -1;
    }
  }
  return cross;
}

/** Crossovers of exact window arithmetic: fl(fsum(fast window)/fast) - fl(fsum(slow window)/slow). */
function exactCrosses(c: Float64Array, n: number, fast: number, slow: number): Int8Array {
  const f = fast === 1 ? c.subarray(0, n) : referenceSma(c, fast, n);
  const s = referenceSma(c, slow, n);
  return crossovers(Float64Array.from(s, (v, i) => f[i] - v), new Int8Array(n), n);
}

/** The first few bars where two crossover columns differ, as [bar, got, want] (readable when it fails). */
function mismatches(got: Int8Array, want: Int8Array, from = 0): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < want.length && out.length < 5; i++) if (got[from + i] !== want[i]) out.push([i, got[from + i], want[i]]);
  return out;
}

const nonZero = (a: Int8Array, from: number, to: number) => Array.from(a.subarray(from, to), (v, k) => [from + k, v]).filter(([, v]) => v !== 0);

describe('sma-cross at exact ties on a long series', () => {
  const b = fixture();
  const n = b.length;
  const reference = exactCrosses(b.close, n, 1, PERIOD);

  test('the fixture has the ties it claims, and exact arithmetic crosses the bar after each tail tie', () => {
    const sma = referenceSma(b.close, PERIOD, n);
    expect(b.close[DOWN_UP_TIE]).toBe(sma[DOWN_UP_TIE]);
    expect(b.close[UP_DOWN_TIE]).toBe(sma[UP_DOWN_TIE]);
    expect(nonZero(reference, PREFIX, n)).toEqual([
      [DOWN_UP_TIE - 2, -1],
      [DOWN_UP_TIE + 1, 1],
      [UP_DOWN_TIE + 1, -1],
    ]);
  });

  test('the running sum it replaced drifts and crosses a bar early (the behaviour this pins)', () => {
    const old = runningSumCrosses(b.close, n, 1, PERIOD);
    // its sum carries ~5e-12 too much out of the prefix, so every tie in the tail looks like "below"
    expect(nonZero(old, PREFIX, n)).toEqual([
      [PREFIX + 3, -1], // the flat tie at 100: a down-cross two bars early (exact: DOWN_UP_TIE - 2)
      [DOWN_UP_TIE + 1, 1],
      [PREFIX + 11, -1], // a flat tie again: a down-cross exact arithmetic does not have
      [PREFIX + 13, 1], // ... and so an up-cross it does not have either
      [UP_DOWN_TIE, -1], // the tie itself: one bar early
    ]);
    // and on the whole series it disagrees with exact arithmetic on many of the prefix's own ties
    let disagree = 0;
    for (let i = 0; i < PREFIX; i++) if (old[i] !== reference[i]) disagree++;
    expect(disagree).toBeGreaterThan(1000);
  });

  test('the strategy equals exact arithmetic on every bar, in both forms', () => {
    const s = createStrategy('sma-cross', b, { period: PERIOD }) as SmaCrossStrategy;
    expect(mismatches(s.cross, reference)).toEqual([]);
    expect(s.exactDecisions).toBeGreaterThan(1000); // the ties were decided exactly, not by luck
    const two = createStrategy('sma-cross', b, { fast: 2, slow: 5 }) as SmaCrossStrategy;
    expect(mismatches(two.cross, exactCrosses(b.close, n, 2, 5))).toEqual([]);
  });

  test('where the series starts does not move a decision (live windows agree with the backtest)', () => {
    const full = createStrategy('sma-cross', b, { period: PERIOD }) as SmaCrossStrategy;
    const from = PREFIX - 50;
    const window = createStrategy('sma-cross', sliceBars(b, from, n), { period: PERIOD }) as SmaCrossStrategy;
    expect(mismatches(full.cross, window.cross.subarray(10), from + 10)).toEqual([]);
  });

  test('the engine fills at the open after the exact cross', () => {
    const r = runBacktest(b, settings({ params: { period: PERIOD }, allowShort: true }));
    const fills = tradeBars(b, r.trades).filter((i) => i > PREFIX);
    expect(fills).toEqual([DOWN_UP_TIE - 1, DOWN_UP_TIE - 1, DOWN_UP_TIE + 2, DOWN_UP_TIE + 2, UP_DOWN_TIE + 2, UP_DOWN_TIE + 2]);
  });
});
