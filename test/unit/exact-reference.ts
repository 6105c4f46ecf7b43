/**
 * Reference arithmetic for the exactness tests, independent of domain/exact-sum.ts: every double in the tests'
 * range (|x| >= 2^-11) times 2^64 is an integer, so window sums are exact as BigInts; Number(bigint) rounds to
 * the nearest double, ties to even (ECMA-262), and dividing by 2^64 is exact.
 */
const SCALE = 2 ** 64;

export function toScaled(x: number): bigint {
  const v = x * SCALE;
  if (!Number.isInteger(v)) throw new Error(`${x} is below the reference's resolution`);
  return BigInt(v);
}

/** The exact sum of xs, rounded once to the nearest double. */
export function referenceSum(xs: ArrayLike<number>, from = 0, to = xs.length): number {
  let s = 0n;
  for (let i = from; i < to; i++) s += toScaled(xs[i]);
  return Number(s) / SCALE;
}

/** SMA(period) by exact window sums: fl(fl(sum) / period), NaN before the first full window. */
export function referenceSma(src: ArrayLike<number>, period: number, n = src.length): Float64Array {
  const out = new Float64Array(n);
  let s = 0n;
  for (let i = 0; i < n; i++) {
    s += toScaled(src[i]);
    if (i >= period) s -= toScaled(src[i - period]);
    out[i] = i >= period - 1 ? Number(s) / SCALE / period : NaN;
  }
  return out;
}
