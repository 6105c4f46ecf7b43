import type { BarColumns } from './bars';

/**
 * Price outliers: bars whose price is far from every neighbourhood around it, such as a bar at 1e15 among bars
 * at 10 (a misplaced decimal point, a unit mix-up, a corrupted row).
 *
 * Rule: each of open, high, low and close is compared with the median close of the WINDOW bars before the bar
 * and with the median close of the WINDOW bars after it. A price more than FACTOR times above or below EVERY
 * side's median (a side counts when it has at least MIN_SIDE bars) is an outlier.
 *  - Medians: one or two bad bars among five neighbours do not move them, so a spike cannot hide another.
 *  - Both sides must disagree: a real level shift (a stock split in unadjusted data, a crash that lasts) is
 *    close to one side's median, so it is never flagged, whatever its size.
 *  - The factor is wide (10x): no real bar of a liquid series is ten times away from its neighbours' closes on
 *    both sides; the files under test/ (NVDA, ORCL, YHOO daily; index minutes) have none.
 * Limits: bars near the ends of a file are judged by one side only, and files of fewer than MIN_SIDE + 1 bars
 * are not judged at all. Pure and allocation-light: one small scratch array, O(n) time.
 */
export const OUTLIER_FACTOR = 10;
export const OUTLIER_WINDOW = 5;
const MIN_SIDE = 3;

export interface PriceOutlier {
  /** index into the bars */
  index: number;
  field: 'open' | 'high' | 'low' | 'close';
  price: number;
  /** the neighbours' median close nearest to the price */
  reference: number;
}

const FIELDS = ['close', 'open', 'high', 'low'] as const;

/** Median of close[from, to) (to - from <= OUTLIER_WINDOW), using `scratch`. */
function medianClose(close: Float64Array, from: number, to: number, scratch: Float64Array): number {
  const k = to - from;
  for (let a = 0; a < k; a++) {
    const v = close[from + a];
    let b = a;
    while (b > 0 && scratch[b - 1] > v) {
      scratch[b] = scratch[b - 1];
      b--;
    }
    scratch[b] = v;
  }
  return k % 2 === 1 ? scratch[k >> 1] : (scratch[(k >> 1) - 1] + scratch[k >> 1]) / 2;
}

/** How far `price` is from `reference`, as a factor >= 1 (prices are positive: invalid bars were rejected). */
const distance = (price: number, reference: number) => (price > reference ? price / reference : reference / price);

/** The outliers of `bars` (ascending by index; at most one per bar: its furthest price), by the rule above. */
export function findPriceOutliers(bars: BarColumns): PriceOutlier[] {
  const n = bars.length;
  const out: PriceOutlier[] = [];
  if (n < MIN_SIDE + 1) return out;
  const { close, high, low } = bars;
  const f = OUTLIER_FACTOR;
  const scratch = new Float64Array(OUTLIER_WINDOW);
  for (let i = 0; i < n; i++) {
    const before = i < OUTLIER_WINDOW ? i : OUTLIER_WINDOW;
    const after = n - 1 - i < OUTLIER_WINDOW ? n - 1 - i : OUTLIER_WINDOW;
    const prev = before >= MIN_SIDE ? medianClose(close, i - before, i, scratch) : NaN;
    // fast path: the bar's range [low, high] holds all four prices; within the factor of one side, none is out
    if (prev === prev && high[i] <= f * prev && low[i] * f >= prev) continue;
    const next = after >= MIN_SIDE ? medianClose(close, i + 1, i + 1 + after, scratch) : NaN;
    if (next === next && high[i] <= f * next && low[i] * f >= next) continue;
    if (prev !== prev && next !== next) continue;
    // the nearer side decides: a price close to either neighbourhood is not an outlier. The close is reported
    // when it is out; otherwise the furthest of open, high and low.
    let worst: PriceOutlier | undefined;
    let worstDistance = f;
    for (const field of FIELDS) {
      const p = bars[field][i];
      const dPrev = prev === prev ? distance(p, prev) : Infinity;
      const dNext = next === next ? distance(p, next) : Infinity;
      const d = dPrev < dNext ? dPrev : dNext;
      if (d > worstDistance) {
        worstDistance = d;
        worst = { index: i, field, price: p, reference: dPrev < dNext ? prev : next };
        if (field === 'close') break;
      }
    }
    if (worst) out.push(worst);
  }
  return out;
}

/** "close 1e+15 is 1e+14x the median close of its neighbours (10)" */
export function outlierReason(o: PriceOutlier): string {
  const x = distance(o.price, o.reference);
  const fmt = (v: number) => (v >= 1e6 || v < 1e-4 ? v.toExponential(3).replace(/\.?0+e/, 'e') : String(Number(v.toPrecision(6))));
  return `price outlier: ${o.field} ${fmt(o.price)} is ${fmt(x)}x ${o.price > o.reference ? 'above' : 'below'} the median close of its neighbours (${fmt(o.reference)}; limit ${OUTLIER_FACTOR}x)`;
}
