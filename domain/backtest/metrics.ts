import type { EquityPoint, Metrics } from './types';

// Globals (Math, NaN, Infinity) read once: some hosts (jest's vm context) make every global lookup ~60 ns.
const { floor, min } = Math;

/** Accumulators the engine keeps while it runs (O(1) memory); computeMetrics turns them into Metrics. */
export interface RunStats {
  bars: number;
  initialCash: number;
  finalEquity: number;
  firstTs: number;
  lastTs: number;
  /** sums over the bar-to-bar simple returns of equity, bars 1..n-1 */
  sumR: number;
  sumR2: number;
  /** sum of squared negative returns (downside deviation) */
  sumDown2: number;
  maxDrawdown: number;
  maxDrawdownBars: number;
  exposedBars: number;
  roundTrips: number;
  wins: number;
  grossWin: number;
  /** positive sum of the losing (and break-even) round trips' PnL magnitudes */
  grossLoss: number;
  realizedPnl: number;
  unrealizedPnl: number;
}

export const DAY_MS = 86_400_000;
export const YEAR_MS = 365.25 * DAY_MS;
export const TRADING_DAYS_PER_YEAR = 252;

/**
 * Bars per year for annualizing Sharpe and Sortino, from the median bar spacing (of up to 2,048 evenly sampled
 * spacings, so it costs O(1) sorting on any length):
 *  - spacing >= 5 days (weekly, monthly bars): calendar years, 365.25 days / spacing;
 *  - spacing >= 20 hours (daily bars, weekends and holidays absent): 252 trading days;
 *  - intraday: 252 x bars per trading day, where bars per day = bars / distinct UTC dates with a bar
 *    (so a 6.5 h equity session of 1-minute bars gives 390 x 252, a 24 h market 1,440 x 252).
 * Returns NaN when there are fewer than 2 bars or no positive spacing.
 */
export function barsPerYear(ts: Float64Array, n: number): number {
  if (n < 2) return NaN;
  // A scan runs thousands of backtests on one series: the sort is then most of a short run's cost. The answer is
  // kept per array and length, and used again only while the series' first and last times are the ones it saw.
  const memo = bpyMemo.get(ts);
  if (memo && memo.n === n && memo.first === ts[0] && memo.last === ts[n - 1]) return memo.value;
  const value = computeBarsPerYear(ts, n);
  bpyMemo.set(ts, { n, first: ts[0], last: ts[n - 1], value });
  return value;
}

const bpyMemo = new WeakMap<Float64Array, { n: number; first: number; last: number; value: number }>();

function computeBarsPerYear(ts: Float64Array, n: number): number {
  const samples = min(n - 1, 2048);
  const gaps = new Float64Array(samples);
  for (let k = 0; k < samples; k++) {
    const i = samples === n - 1 ? k : floor((k * (n - 1)) / samples);
    gaps[k] = ts[i + 1] - ts[i];
  }
  gaps.sort();
  const median = samples % 2 === 1 ? gaps[(samples - 1) / 2] : (gaps[samples / 2 - 1] + gaps[samples / 2]) / 2;
  if (!(median > 0)) return NaN;
  if (median >= 5 * DAY_MS) return YEAR_MS / median;
  if (median >= (20 / 24) * DAY_MS) return TRADING_DAYS_PER_YEAR;
  const days = countUtcDays(ts, n);
  const perDay = min(n / days, DAY_MS / median);
  return TRADING_DAYS_PER_YEAR * perDay;
}

/**
 * Distinct UTC calendar dates among ts[0..n), which must be ascending: jumps from day to day by binary search,
 * O(days x log n) instead of a pass over every bar.
 */
export function countUtcDays(ts: Float64Array, n: number): number {
  let days = 0;
  let i = 0;
  while (i < n) {
    days++;
    const nextDay = (floor(ts[i] / DAY_MS) + 1) * DAY_MS;
    // first index in (i, n) with ts >= nextDay
    let lo = i + 1;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ts[mid] < nextDay) lo = mid + 1;
      else hi = mid;
    }
    i = lo;
  }
  return days;
}

/**
 * Metrics from run accumulators.
 * - totalReturn = finalEquity / initialCash - 1; cagr over the first..last bar time span in years of 365.25 days
 *   (0 for a zero span, -1 once equity is <= 0);
 * - sharpe = mean / sample stdev of bar returns x sqrt(barsPerYear); sortino = mean / downside deviation
 *   (root mean square of the negative returns over all returns) x sqrt(barsPerYear); 0 when undefined;
 *   no risk-free rate; a bar's return is (equity - previous equity) / previous equity, 0 when that is <= 0;
 * - maxDrawdown as a fraction of the running peak; maxDrawdownBars = longest stretch below a previous peak;
 * - winRate, profitFactor (Infinity when there are wins and no losses, 0 with no round trips), expectancy =
 *   mean PnL per closed round trip (net of both fills' fees);
 * - exposure = bars closing with a position / bars.
 */
export function computeMetrics(st: RunStats, ts: Float64Array): Metrics {
  const n = st.bars;
  const totalReturn = st.finalEquity / st.initialCash - 1;
  const years = n > 1 ? (st.lastTs - st.firstTs) / YEAR_MS : 0;
  let cagr = 0;
  if (st.finalEquity <= 0) cagr = -1;
  else if (years > 0) cagr = Math.pow(st.finalEquity / st.initialCash, 1 / years) - 1;

  let sharpe = 0;
  let sortino = 0;
  const m = n - 1;
  if (m >= 2) {
    const mean = st.sumR / m;
    const variance = (st.sumR2 - m * mean * mean) / (m - 1);
    const downside = Math.sqrt(st.sumDown2 / m);
    const bpy = barsPerYear(ts, n);
    const annual = bpy > 0 ? Math.sqrt(bpy) : 1;
    if (variance > 0) sharpe = (mean / Math.sqrt(variance)) * annual;
    if (downside > 0) sortino = (mean / downside) * annual;
  }

  const trips = st.roundTrips;
  return {
    totalReturn,
    cagr,
    sharpe,
    sortino,
    maxDrawdown: st.maxDrawdown,
    maxDrawdownBars: st.maxDrawdownBars,
    winRate: trips > 0 ? st.wins / trips : 0,
    profitFactor: st.grossLoss > 0 ? st.grossWin / st.grossLoss : st.grossWin > 0 ? Infinity : 0,
    expectancy: trips > 0 ? st.realizedPnl / trips : 0,
    exposure: n > 0 ? st.exposedBars / n : 0,
    trades: trips,
    realizedPnl: st.realizedPnl,
    unrealizedPnl: st.unrealizedPnl,
  };
}

/**
 * Downsamples equity[0..n) to at most maxPoints points, min-max preserving (the same scheme BacktestRun applies
 * online): with n <= maxPoints every bar; otherwise the bars are cut into floor((maxPoints - 2) / 2) buckets
 * [floor(b * n / B), floor((b + 1) * n / B)) and each bucket contributes its lowest and highest equity in time order
 * (once if the same bar; the first such bar wins ties), plus the first and the last bar.
 */
export function downsampleEquity(ts: Float64Array, equity: Float64Array, n: number, maxPoints: number): EquityPoint[] {
  const out: EquityPoint[] = [];
  if (n <= 0) return out;
  if (n <= maxPoints) {
    for (let i = 0; i < n; i++) out.push({ ts: ts[i], equity: equity[i] });
    return out;
  }
  const last = n - 1;
  out.push({ ts: ts[0], equity: equity[0] });
  const buckets = floor((maxPoints - 2) / 2);
  for (let b = 0; b < buckets; b++) {
    const from = floor((b * n) / buckets);
    const to = b + 1 >= buckets ? n : floor(((b + 1) * n) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const e = equity[i];
      if (lo < 0 || e < equity[lo]) lo = i;
      if (hi < 0 || e > equity[hi]) hi = i;
    }
    if (lo < 0) continue;
    const a = lo < hi ? lo : hi;
    const z = lo < hi ? hi : lo;
    if (a > 0 && a < last) out.push({ ts: ts[a], equity: equity[a] });
    if (z !== a && z > 0 && z < last) out.push({ ts: ts[z], equity: equity[z] });
  }
  out.push({ ts: ts[last], equity: equity[last] });
  return out;
}
