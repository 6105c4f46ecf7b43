import { allocateBars, appendBar, barAt, sliceBars, type BarColumns } from './bars';
import type { CsvRejection } from './csv';
import { findPriceOutliers, OUTLIER_WINDOW, outlierReason } from './price-outliers';

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

/** Bars [from, to) newly judged by ScreenStream.next, and the indexes of the outliers among them (ascending). */
export interface Judged {
  from: number;
  to: number;
  outliers: number[];
}

/**
 * The checks of an import after parsing, for bars ascending by time that may still be growing at their end (a
 * sorted CSV being parsed): bars dated after `notAfter` are rejected (a tail, as the bars are sorted), then price
 * outliers among the rest. A bar's outlier verdict reads OUTLIER_WINDOW bars on each side, so it is final once
 * that many later bars are known, or the series ends, or the bars after it are future ones; next() gives each
 * verdict then, exactly as for the whole series at once. Pure: the caller supplies the clock.
 */
export class ScreenStream {
  private readonly maxSamples: number;
  /** bars [0, judged) have their verdicts */
  private judged = 0;
  /** bars [0, scanned) are known not to be future ones */
  private scanned = 0;
  /** index of the first future bar, -1 while none has come */
  private present = -1;
  private total = -1;
  private outlierCount = 0;
  private readonly futureSamples: CsvRejection[] = [];
  private readonly outlierSamples: CsvRejection[] = [];

  constructor(private readonly opts: ScreenOptions) {
    this.maxSamples = opts.maxRejectionSamples ?? 100;
  }

  /** Judges what it can of `bars` (every bar so far, ascending; `lines` aligned); `final` when no more will come. */
  next(bars: BarColumns, lines: Int32Array, final: boolean): Judged {
    const n = bars.length;
    if (this.present < 0) {
      while (this.scanned < n && bars.ts[this.scanned] <= this.opts.notAfter) this.scanned++;
      if (this.scanned < n) this.present = this.scanned;
    }
    if (this.present >= 0) {
      for (let i = this.present + this.futureSamples.length; i < n && this.futureSamples.length < this.maxSamples; i++) {
        this.futureSamples.push({ line: lines[i], reason: `dated in the future: ${new Date(bars.ts[i]).toISOString()} is after ${new Date(this.opts.notAfter).toISOString()}` });
      }
    }
    if (final) this.total = n;
    const end = this.present >= 0 ? this.present : n;
    const from = this.judged;
    const to = this.present >= 0 || final ? end : Math.max(from, n - OUTLIER_WINDOW);
    if (to <= from) return { from, to: from, outliers: [] };
    // the window of every bar in [from, to) and nothing past the present bars: the same verdicts as on all of them
    const start = Math.max(0, from - OUTLIER_WINDOW);
    const found = findPriceOutliers(sliceBars(bars, start, Math.min(end, to + OUTLIER_WINDOW)));
    const outliers: number[] = [];
    for (const o of found) {
      const i = o.index + start;
      if (i < from || i >= to) continue;
      outliers.push(i);
      if (this.outlierCount++ < this.maxSamples) this.outlierSamples.push({ line: lines[i], reason: outlierReason(o) });
    }
    this.judged = to;
    return { from, to, outliers };
  }

  /** Counts and samples (ascending by line), after a `final` next(). */
  result(): { future: number; outliers: number; rejections: CsvRejection[] } {
    if (this.total < 0) throw new Error('ScreenStream.result() before the final next()');
    const rejections = [...this.futureSamples, ...this.outlierSamples].sort((a, b) => a.line - b.line);
    rejections.length = Math.min(rejections.length, this.maxSamples);
    return { future: this.present >= 0 ? this.total - this.present : 0, outliers: this.outlierCount, rejections };
  }
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

/** The checks of ScreenStream on parsed bars (ascending by time) and their lines, all at once. */
export function screenBars(bars: BarColumns, lines: Int32Array, opts: ScreenOptions): ScreenResult {
  const stream = new ScreenStream(opts);
  const { outliers } = stream.next(bars, lines, true);
  const { future, rejections } = stream.result();
  if (future === 0 && outliers.length === 0) return { bars, lines, future, outliers: 0, rejections };
  const present = bars.length - future;
  const keep = new Uint8Array(bars.length);
  keep.fill(1, 0, present);
  for (const i of outliers) keep[i] = 0;
  const kept = keepOnly(bars, lines, keep, present - outliers.length);
  return { ...kept, future, outliers: outliers.length, rejections };
}
