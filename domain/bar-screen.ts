import { allocateBars, appendBar, barAt, sliceBars, type BarColumns } from './bars';
import type { CsvRejection } from './csv';
import { findPriceOutliers, outlierReason } from './price-outliers';

export interface ScreenOptions {
  /** epoch ms: bars opening later are rejected as dated in the future (the caller passes now + one bar) */
  notAfter: number;
  /** rejection samples kept (default 100) */
  maxRejectionSamples?: number;
}

export interface ScreenResult {
  /** the bars that passed, in order */
  bars: BarColumns;
  lines: Int32Array;
  /** rejected: dated after notAfter */
  future: number;
  /** rejected: price outliers (see price-outliers.ts) */
  outliers: number;
  /** samples of both kinds, ascending by line */
  rejections: CsvRejection[];
}

/** Copies the bars whose `keep` flag is 1. */
function keepOnly(bars: BarColumns, lines: Int32Array, keep: Uint8Array, count: number): { bars: BarColumns; lines: Int32Array } {
  const out = allocateBars(count);
  const outLines = new Int32Array(count);
  for (let i = 0; i < bars.length; i++) {
    if (!keep[i]) continue;
    outLines[out.length] = lines[i];
    appendBar(out, barAt(bars, i));
  }
  return { bars: out, lines: outLines };
}

/**
 * The checks of an import after parsing, on parsed bars (ascending by time) and their lines: bars dated after
 * `notAfter` are rejected first, then price outliers among the rest. Pure: the caller supplies the clock.
 */
export function screenBars(bars: BarColumns, lines: Int32Array, opts: ScreenOptions): ScreenResult {
  const n = bars.length;
  const maxSamples = opts.maxRejectionSamples ?? 100;
  const rejections: CsvRejection[] = [];

  // bars are sorted, so the future ones are a tail
  let present = n;
  while (present > 0 && bars.ts[present - 1] > opts.notAfter) present--;
  const future = n - present;
  for (let i = present; i < n && i < present + maxSamples; i++) {
    rejections.push({ line: lines[i], reason: `dated in the future: ${new Date(bars.ts[i]).toISOString()} is after ${new Date(opts.notAfter).toISOString()}` });
  }
  const outliers = findPriceOutliers(sliceBars(bars, 0, present));
  for (const o of outliers.slice(0, maxSamples)) rejections.push({ line: lines[o.index], reason: outlierReason(o) });
  rejections.sort((a, b) => a.line - b.line);
  rejections.length = Math.min(rejections.length, maxSamples);

  if (future === 0 && outliers.length === 0) return { bars, lines, future, outliers: 0, rejections };
  const keep = new Uint8Array(n);
  keep.fill(1, 0, present);
  for (const o of outliers) keep[o.index] = 0;
  const kept = keepOnly(bars, lines, keep, present - outliers.length);
  return { ...kept, future, outliers: outliers.length, rejections };
}
