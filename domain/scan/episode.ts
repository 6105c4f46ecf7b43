/** The worst drawdown inside a window of an equity series, and whether and when it was made good. */
export interface Episode {
  /** equity entering the window (the bar before it; the initial cash when the window starts at bar 0) */
  startEquity: number;
  endEquity: number;
  /** endEquity / startEquity - 1 */
  return: number;
  /** the largest fall below a running peak (starting from startEquity) inside the window, as a fraction */
  maxDrawdown: number;
  /** ISO times of the peak it fell from (the bar before the window when that is the peak; null before bar 0) and of the trough */
  peakAt: string | null;
  troughAt: string | null;
  /** first bar at or after the trough (looking past the window to the end of the data) back at the peak */
  recovered: boolean;
  recoveredAt: string | null;
  /** trough -> recovery, in bars and calendar days; null when not recovered */
  recoveryBars: number | null;
  recoveryDays: number | null;
  /** peak -> recovery (or -> the last bar, when not recovered), in bars and calendar days */
  underwaterBars: number;
  underwaterDays: number;
}

const DAY_MS = 86_400_000;
const iso = (ts: number) => new Date(ts).toISOString();

/**
 * Measures bars [from, to) of equity[0..n) (times ts). Recovery is searched to the end of the data; "not
 * recovered" when it never gets back. A window without a drawdown has recovered at once (0 bars).
 */
export function measureEpisode(equity: ArrayLike<number>, ts: ArrayLike<number>, n: number, from: number, to: number, initialCash: number): Episode {
  const start = from > 0 ? equity[from - 1] : initialCash;
  let peak = start;
  let peakIdx = from - 1;
  let dd = 0;
  let ddPeak = start;
  let ddPeakIdx = from - 1;
  let trough = -1;
  for (let i = from; i < to; i++) {
    const e = equity[i];
    if (e > peak) {
      peak = e;
      peakIdx = i;
    } else if (peak > 0 && (peak - e) / peak > dd) {
      dd = (peak - e) / peak;
      ddPeak = peak;
      ddPeakIdx = peakIdx;
      trough = i;
    }
  }
  const end = to > from ? equity[to - 1] : start;
  const base = { startEquity: start, endEquity: end, return: start > 0 ? end / start - 1 : 0, maxDrawdown: dd };
  if (trough < 0) {
    return { ...base, peakAt: null, troughAt: null, recovered: true, recoveredAt: null, recoveryBars: 0, recoveryDays: 0, underwaterBars: 0, underwaterDays: 0 };
  }
  let back = -1;
  for (let i = trough + 1; i < n; i++) {
    if (equity[i] >= ddPeak) {
      back = i;
      break;
    }
  }
  // the time of the peak: its bar, or (peak = the equity entering the window) the bar before the window
  const peakTs = ddPeakIdx >= 0 ? ts[ddPeakIdx] : ts[from];
  const last = back >= 0 ? back : n - 1;
  return {
    ...base,
    peakAt: ddPeakIdx >= 0 ? iso(ts[ddPeakIdx]) : null,
    troughAt: iso(ts[trough]),
    recovered: back >= 0,
    recoveredAt: back >= 0 ? iso(ts[back]) : null,
    recoveryBars: back >= 0 ? back - trough : null,
    recoveryDays: back >= 0 ? (ts[back] - ts[trough]) / DAY_MS : null,
    underwaterBars: last - Math.max(ddPeakIdx, from - 1),
    underwaterDays: (ts[last] - peakTs) / DAY_MS,
  };
}
