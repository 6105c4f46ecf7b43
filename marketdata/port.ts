/**
 * The bar shape market-data code shares, and bars to and from typed-array columns. Pure module (no Node built-ins,
 * no I/O): workflow code may import it.
 */
import { allocateBars, appendBar, barAt, type Bar, type BarColumns } from '../domain/bars';

export type { Bar };

/** Bars (ascending) as typed-array columns, the shape the strategy and cycle code take. */
export function barsToColumns(bars: readonly Bar[]): BarColumns {
  const out = allocateBars(bars.length);
  for (const b of bars) appendBar(out, b);
  return out;
}

/** Typed-array columns back to bars. */
export function columnsToBars(cols: BarColumns): Bar[] {
  return Array.from({ length: cols.length }, (_, i) => barAt(cols, i));
}
