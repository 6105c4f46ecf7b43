/**
 * The bar shape market-data code shares, and bars to and from typed-array columns. Pure module (no Node built-ins,
 * no I/O): workflow code may import it.
 */
import { allocateBars, type Bar, type BarColumns } from '../domain/bars';

export type { Bar };

/** Bars (ascending) as typed-array columns, the shape the strategy and cycle code take. */
export function barsToColumns(bars: readonly Bar[]): BarColumns {
  const out = allocateBars(bars.length);
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i];
    out.ts[i] = b.ts;
    out.open[i] = b.open;
    out.high[i] = b.high;
    out.low[i] = b.low;
    out.close[i] = b.close;
    out.volume[i] = b.volume;
  }
  out.length = bars.length;
  return out;
}

/** Typed-array columns back to bars. */
export function columnsToBars(cols: BarColumns): Bar[] {
  const out: Bar[] = new Array(cols.length);
  for (let i = 0; i < cols.length; i++) {
    out[i] = { ts: cols.ts[i], open: cols.open[i], high: cols.high[i], low: cols.low[i], close: cols.close[i], volume: cols.volume[i] };
  }
  return out;
}
