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

export const TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '4h', '1d'] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

/** Allocates empty columns for up to `capacity` bars. */
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
