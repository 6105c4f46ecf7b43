import type { BarColumns } from '../bars';
import type { BacktestSettings, Metrics } from '../backtest/types';
import { CRISES, crisisBounds, type CrisisWindow } from './crises';
import { specError } from './errors';
import { measureEpisode, type Episode } from './episode';
import type { Progress } from './runner';
import { defaultShocks, resolveShock, shockBars, type ResolvedShock } from './shocks';
import type { Shock } from './spec';
import { runWindow } from './window';

export interface RunSummary {
  finalEquity: number;
  cash: number;
  position: number;
  trades: number;
  metrics: Metrics;
}

export interface CrisisReport extends CrisisWindow {
  /** bars of the data inside the window, and the first and last of them */
  bars: number;
  firstBar: string;
  lastBar: string;
  /** the data has bars before and after the window (else only part of the crisis is in it) */
  complete: boolean;
  /** the strategy's equity (the whole-period backtest, holding what it held when the window opened) */
  strategy: Episode;
  /** the instrument itself (buy and hold of the close), for comparison */
  instrument: Episode;
}

export interface ShockReport {
  shock: Shock;
  /** first and last bar of the shock's window (ISO) */
  from: string;
  to: string;
  /** effective slippage of a slippage shock, in basis points */
  slippageBps?: number;
  finalEquity: number;
  /** the unshocked run's final equity, for comparison */
  baseFinalEquity: number;
  metrics: Metrics;
  /** the shocked run's worst drawdown in the shock's window (its bar for a gap, the whole run for slippage) and the time to recover it */
  episode: Episode;
}

export interface BlackSwanReport {
  base: RunSummary;
  crises: CrisisReport[];
  /** crisis windows the data does not reach */
  notCovered: string[];
  shocks: ShockReport[];
}

const iso = (ts: number) => new Date(ts).toISOString();

/** First index with ts >= ms. */
function lowerBound(ts: Float64Array, n: number, ms: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A shock's run without the unshocked run's final equity (a batch of shocks runs without the base run). */
export type ShockRun = Omit<ShockReport, 'baseFinalEquity'>;

/** The crisis windows asked for and the shocks resolved on the bars: every bad name or bar is refused before anything runs. */
export function resolveBlackSwan(bars: BarColumns, settings: BacktestSettings, opts: { crises: 'all' | string[]; shocks?: Shock[] }): { windows: readonly CrisisWindow[]; shocks: ResolvedShock[] } {
  const windows = opts.crises === 'all' ? CRISES : opts.crises.map((id, k) => CRISES.find((c) => c.id === id) ?? unknownCrisis(id, k));
  const shocks = (opts.shocks ?? defaultShocks(bars.length, settings.slippageBps)).map((s, k) => resolveShock(bars, s, k));
  return { windows, shocks };
}

/** The unshocked run over the whole series, and each crisis window measured on its equity (and on the instrument). */
export function blackSwanBase(bars: BarColumns, settings: BacktestSettings, windows: readonly CrisisWindow[]): Omit<BlackSwanReport, 'shocks'> {
  const n = bars.length;
  const base = runWindow(bars, settings, undefined, { keepEquity: true });
  const equity = base.run.equitySeries;
  const crises: CrisisReport[] = [];
  const notCovered: string[] = [];
  for (const c of windows) {
    const { fromMs, toMs } = crisisBounds(c);
    const from = lowerBound(bars.ts, n, fromMs);
    const to = lowerBound(bars.ts, n, toMs + 1);
    if (to <= from) {
      notCovered.push(c.id);
      continue;
    }
    crises.push({
      ...c,
      bars: to - from,
      firstBar: iso(bars.ts[from]),
      lastBar: iso(bars.ts[to - 1]),
      complete: from > 0 && to < n,
      strategy: measureEpisode(equity, bars.ts, n, from, to, settings.initialCash),
      instrument: measureEpisode(bars.close, bars.ts, n, from, to, bars.open[0]),
    });
  }
  const b = base.result;
  return { base: { finalEquity: b.finalEquity, cash: b.cash, position: b.position, trades: base.run.fillCount, metrics: b.metrics }, crises, notCovered };
}

/** One synthetic shock: the shocked run and its worst drawdown in the shock's window. */
export function shockRun(bars: BarColumns, settings: BacktestSettings, r: ResolvedShock): ShockRun {
  const s = r.shock;
  const shockedSettings = s.kind === 'slippage' ? { ...settings, slippageBps: settings.slippageBps * s.factor } : settings;
  const shocked = s.kind === 'slippage' ? bars : shockBars(bars, r);
  const run = runWindow(shocked, shockedSettings, undefined, { keepEquity: true });
  return {
    shock: s,
    from: iso(bars.ts[r.from]),
    to: iso(bars.ts[r.to - 1]),
    ...(s.kind === 'slippage' ? { slippageBps: shockedSettings.slippageBps } : {}),
    finalEquity: run.result.finalEquity,
    metrics: run.result.metrics,
    episode: measureEpisode(run.run.equitySeries, bars.ts, bars.length, r.from, r.to, settings.initialCash),
  };
}

/** A shock's report: its run with the unshocked final equity beside its own. */
export function shockReport(run: ShockRun, baseFinalEquity: number): ShockReport {
  const { metrics, episode, ...head } = run;
  return { ...head, baseFinalEquity, metrics, episode };
}

/** Crisis windows (by id, or all) and synthetic shocks (default: defaultShocks) against the base settings. */
export function runBlackSwan(bars: BarColumns, settings: BacktestSettings, opts: { crises: 'all' | string[]; shocks?: Shock[] }, onProgress?: Progress): BlackSwanReport {
  const { windows, shocks } = resolveBlackSwan(bars, settings, opts); // all refused before anything runs
  const total = 1 + shocks.length;
  const base = blackSwanBase(bars, settings, windows);
  onProgress?.(1, total);
  const out: ShockReport[] = [];
  for (const r of shocks) {
    out.push(shockReport(shockRun(bars, settings, r), base.base.finalEquity));
    onProgress?.(1 + out.length, total);
  }
  return { ...base, shocks: out };
}

function unknownCrisis(id: string, k: number): never {
  throw specError(['blackSwan', 'crises', k], `unknown crisis window "${id}"; known: ${CRISES.map((c) => c.id).join(', ')}`);
}
