import { allocateBars, appendBar, type BarColumns } from './bars';

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). Deterministic across platforms. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * mulberry32(seed) after `skip` draws, in O(1): its state only ever adds 0x6d2b79f5 (mod 2^32), so skipping k
 * draws adds k x 0x6d2b79f5. Lets a batch start a seeded stream where an earlier batch would have left it.
 */
export function mulberry32At(seed: number, skip: number): () => number {
  // (skip mod 2^32) x the increment, mod 2^32: exact for any skip below 2^53
  return mulberry32(((seed | 0) + Math.imul(skip % 4294967296, 0x6d2b79f5)) | 0);
}

export interface RandomWalkOptions {
  seed?: number;
  /** first open (default 100) */
  start?: number;
  /** per-bar return is (rnd - 0.5) * 2 * halfRange (default 0.002, i.e. about 0.1 % volatility) */
  halfRange?: number;
  /** high/low extend max/min(open, close) by up to this fraction (default 0.001) */
  wick?: number;
  /** first bar time, epoch ms (default 2020-01-01T00:00Z) */
  startTs?: number;
  /** bar spacing in ms (default 60,000) */
  stepMs?: number;
}

/**
 * Synthetic OHLCV random walk (performance.md, Appendix A): open = previous close, close = open * (1 + r) with
 * r = (rnd() - 0.5) * 0.004, high = max(open, close) * (1 + rnd() * 0.001), low = min(open, close) * (1 - rnd() * 0.001).
 */
export function randomWalkBars(n: number, opts: RandomWalkOptions = {}): BarColumns {
  const rnd = mulberry32(opts.seed ?? 42);
  const half = opts.halfRange ?? 0.002;
  const wick = opts.wick ?? 0.001;
  const step = opts.stepMs ?? 60_000;
  const t0 = opts.startTs ?? Date.UTC(2020, 0, 1);
  const bars = allocateBars(n);
  let p = opts.start ?? 100;
  for (let i = 0; i < n; i++) {
    const o = p;
    const c = o * (1 + (rnd() - 0.5) * 2 * half);
    const high = (o > c ? o : c) * (1 + rnd() * wick);
    const low = (o < c ? o : c) * (1 - rnd() * wick);
    appendBar(bars, { ts: t0 + i * step, open: o, high, low, close: c, volume: 1000 });
    p = c;
  }
  return bars;
}
