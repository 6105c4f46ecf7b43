/**
 * The daily data-quality report: per trading day, over every series (provider x timeframe x symbol) the feeds
 * refreshed, bars expected by the calendar and received, the success rate, invalid bars skipped, gaps, late bars and
 * the worst delay, with the series at each level and the worst ones named. Pure.
 */
import type { QualityLevel } from './quality';

export interface SeriesQuality {
  provider: string;
  timeframe: string;
  symbol: string;
  expected: number;
  received: number;
  invalid: number;
  gaps: number;
  late: number;
  maxDelayMs: number;
  level: QualityLevel;
}

export interface QualityReport {
  day: string;
  series: number;
  expected: number;
  received: number;
  /** received / expected (1 when nothing was expected) */
  successRate: number;
  invalidSkipped: number;
  gaps: number;
  late: number;
  maxDelayMs: number;
  levels: Record<QualityLevel, number>;
  /** the worst series first (level, then missing rate), at most `worstN` */
  worst: Array<SeriesQuality & { missingRate: number }>;
}

const rank: Record<QualityLevel, number> = { ERROR: 0, WARNING: 1, OK: 2 };

export function qualityReport(day: string, rows: readonly SeriesQuality[], worstN = 10): QualityReport {
  const sum = (f: (r: SeriesQuality) => number) => rows.reduce((n, r) => n + f(r), 0);
  const expected = sum((r) => r.expected);
  const received = sum((r) => Math.min(r.received, r.expected));
  const levels: Record<QualityLevel, number> = { OK: 0, WARNING: 0, ERROR: 0 };
  for (const r of rows) levels[r.level]++;
  const missingRate = (r: SeriesQuality) => (r.expected > 0 ? Math.max(0, r.expected - r.received) / r.expected : 0);
  const worst = rows
    .map((r) => ({ ...r, missingRate: missingRate(r) }))
    .sort((a, b) => rank[a.level] - rank[b.level] || b.missingRate - a.missingRate || b.maxDelayMs - a.maxDelayMs || a.symbol.localeCompare(b.symbol))
    .slice(0, worstN);
  return {
    day,
    series: rows.length,
    expected,
    received,
    successRate: expected > 0 ? received / expected : 1,
    invalidSkipped: sum((r) => r.invalid),
    gaps: sum((r) => r.gaps),
    late: sum((r) => r.late),
    maxDelayMs: rows.reduce((m, r) => Math.max(m, r.maxDelayMs), 0),
    levels,
    worst,
  };
}

/** The report as a few lines of text (the notification's body and the CLI's output). */
export function reportText(r: QualityReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const lines = [
    `Market data quality ${r.day}: ${r.series} series, ${r.received} of ${r.expected} bars received (${pct(r.successRate)}), ${r.invalidSkipped} invalid bars skipped, ${r.gaps} gaps, ${r.late} late bars, worst delay ${(r.maxDelayMs / 60_000).toFixed(1)} min.`,
    `Levels: ${r.levels.ERROR} ERROR, ${r.levels.WARNING} WARNING, ${r.levels.OK} OK.`,
  ];
  for (const w of r.worst.filter((x) => x.level !== 'OK')) lines.push(`  ${w.level} ${w.symbol} ${w.timeframe} (${w.provider}): ${w.received}/${w.expected}, missing ${pct(w.missingRate)}, delay ${(w.maxDelayMs / 60_000).toFixed(1)} min`);
  return lines.join('\n');
}
