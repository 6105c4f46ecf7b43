/** OHLCV bars in columns: one Float64Array per field, so a million bars cost 48 MB and no objects. */
export interface BarColumns {
  /** number of bars in use (arrays may be longer) */
  length: number;
  /** bar open time, epoch milliseconds UTC */
  ts: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

/** One OHLCV bar. `ts` is the bar OPEN time, epoch ms UTC; the bar closes at ts + timeframe. */
export interface Bar {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export const TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '4h', '8h', '1d'] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

const INF = Number.POSITIVE_INFINITY;

/** Allocates empty columns for up to `capacity` bars (appendBar grows them past it). */
export function allocateBars(capacity: number): BarColumns {
  return {
    length: 0,
    ts: new Float64Array(capacity),
    open: new Float64Array(capacity),
    high: new Float64Array(capacity),
    low: new Float64Array(capacity),
    close: new Float64Array(capacity),
    volume: new Float64Array(capacity),
  };
}

/** A view of bars [from, to) without copying. */
export function sliceBars(bars: BarColumns, from: number, to: number): BarColumns {
  return {
    length: to - from,
    ts: bars.ts.subarray(from, to),
    open: bars.open.subarray(from, to),
    high: bars.high.subarray(from, to),
    low: bars.low.subarray(from, to),
    close: bars.close.subarray(from, to),
    volume: bars.volume.subarray(from, to),
  };
}

/** The bar at index i. */
export function barAt(bars: BarColumns, i: number): Bar {
  return { ts: bars.ts[i], open: bars.open[i], high: bars.high[i], low: bars.low[i], close: bars.close[i], volume: bars.volume[i] };
}

/**
 * Writes `bar` at index bars.length and counts it. Full columns are replaced by ones twice as long first: a typed
 * array ignores writes past its end, so an append never loses a bar silently.
 */
export function appendBar(bars: BarColumns, bar: Bar): void {
  const i = bars.length;
  if (i === bars.ts.length) growBars(bars, i < 8 ? 16 : i * 2);
  bars.ts[i] = bar.ts;
  bars.open[i] = bar.open;
  bars.high[i] = bar.high;
  bars.low[i] = bar.low;
  bars.close[i] = bar.close;
  bars.volume[i] = bar.volume;
  bars.length = i + 1;
}

/** Replaces the columns with ones of `capacity` bars (at least bars.length), keeping the first bars.length. */
export function growBars(bars: BarColumns, capacity: number): void {
  const grow = (a: Float64Array) => {
    const b = new Float64Array(capacity);
    b.set(a.subarray(0, bars.length));
    return b;
  };
  bars.ts = grow(bars.ts);
  bars.open = grow(bars.open);
  bars.high = grow(bars.high);
  bars.low = grow(bars.low);
  bars.close = grow(bars.close);
  bars.volume = grow(bars.volume);
}

/** Why a bar is invalid, or null. Prices must be positive and finite, high >= max(open, close) >= min(open, close) >= low, volume >= 0. */
export function validateBar(o: number, h: number, l: number, c: number, v: number): string | null {
  if (!(o > 0 && h > 0 && l > 0 && c > 0) || !(o < INF && h < INF && l < INF && c < INF)) {
    return `prices must be positive numbers (open ${o}, high ${h}, low ${l}, close ${c})`;
  }
  if (h < l) return `high ${h} < low ${l}`;
  if (h < o || h < c) return `high ${h} < max(open ${o}, close ${c})`;
  if (l > o || l > c) return `low ${l} > min(open ${o}, close ${c})`;
  if (!(v >= 0) || v === INF) return `volume must be a number >= 0, got ${v}`;
  return null;
}
