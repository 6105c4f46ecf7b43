/** Latency figures of one sample, in whole ms (null when the sample is empty). */
export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

/** Nearest-rank percentile (p in (0, 100]) of an ascending array: a value that really occurred, never an interpolation. */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x);
  return {
    count: s.length,
    p50Ms: r(percentileOfSorted(s, 50)),
    p90Ms: r(percentileOfSorted(s, 90)),
    p99Ms: r(percentileOfSorted(s, 99)),
    maxMs: r(s[s.length - 1]!),
    meanMs: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}
