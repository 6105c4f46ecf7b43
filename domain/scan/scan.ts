import { sliceBars, type BarColumns } from '../bars';
import type { BacktestResult } from '../backtest/types';
import { runBlackSwan, type BlackSwanReport, type RunSummary } from './black-swan';
import { specError } from './errors';
import { defaultShocks } from './shocks';
import { barPaths } from './bootstrap';
import { FanRecorder, fanSteps, pathHistograms, tradeFan, type PathCharts } from './charts';
import { summarizePaths, tradePaths, type PathStats, type PathSummary } from './monte-carlo';
import { rank } from './objective';
import { SCAN_FORMAT_VERSION, type PreparedScan } from './prepare';
import { runCells, type CellResult, type Progress } from './runner';
import { runWalkForward, walkForwardFolds, type FoldReport, type WalkForwardSummary } from './walk-forward';
import { runWindow } from './window';

export interface RankedCell extends CellResult {
  rank: number;
  objective: number;
  eligible: boolean;
}

export interface MonteCarloReport {
  /** closed round trips of the base backtest the trade methods resample */
  roundTrips: number;
  shuffle?: PathSummary & PathCharts;
  bootstrap?: PathSummary & PathCharts;
  blockBootstrap?: PathSummary & PathCharts & { blockBars: number };
}

/** A stress scan's result. Like a backtest's, it states every assumption, the seed and the params version. */
export interface ScanResult {
  type: PreparedScan['spec']['type'];
  assumptions: BacktestResult['assumptions'] & {
    formatVersion: number;
    paramsVersion: string;
    /** the PRNG seed (random search, Monte Carlo), null when nothing was random */
    seed: number | null;
    /** the request's scan fields that apply to its type (the settings are the fields above) */
    scan: Partial<Omit<PreparedScan['spec'], 'settings'>>;
  };
  bars: { count: number; first: string; last: string };
  /** ranked: rank 1 is the best by the objective (monte_carlo and black_swan: the one base run) */
  cells: RankedCell[];
  folds?: FoldReport[];
  walkForward?: WalkForwardSummary;
  monteCarlo?: MonteCarloReport;
  blackSwan?: Omit<BlackSwanReport, 'base'>;
}

/** How many progress steps runScan will report for these bars (refuses walk-forward windows the data cannot hold). */
export function scanSteps(scan: PreparedScan, barsCount: number): number {
  const { spec } = scan;
  if (spec.type === 'param_scan') return scan.cells.length;
  if (spec.type === 'optimization') return scan.cells.length + (spec.walkForward ? walkForwardFolds(barsCount, spec.walkForward).length * (scan.cells.length + 1) : 0);
  if (spec.type === 'monte_carlo') return 1 + (spec.monteCarlo.methods.includes('block-bootstrap') ? spec.monteCarlo.paths : 0);
  return 1 + (spec.blackSwan.shocks ?? defaultShocks(barsCount, scan.base.slippageBps)).length;
}

/** What every scan result starts with: its type, its assumptions (engine, seed, params version, the request) and its bars. */
export function scanHeader(bars: BarColumns, scan: PreparedScan): Pick<ScanResult, 'type' | 'assumptions' | 'bars'> {
  const { spec } = scan;
  const seed = spec.type === 'monte_carlo' ? spec.monteCarlo.seed : spec.sampler.kind === 'random' ? spec.sampler.seed : null;
  // what the engine states about its runs (fill rule, sizing, costs), from a run on no bars
  const engine = runWindow(sliceBars(bars, 0, 0), scan.base).result.assumptions;
  const params = spec.type === 'param_scan' || spec.type === 'optimization' ? { ...scan.space.base } : scan.base.params;
  return {
    type: spec.type,
    assumptions: { ...engine, params, formatVersion: SCAN_FORMAT_VERSION, paramsVersion: scan.paramsVersion, seed, scan: relevantSpec(spec) },
    bars: { count: bars.length, first: iso(bars.ts[0]), last: iso(bars.ts[bars.length - 1]) },
  };
}

/** Cells ranked by the scan's objective (rank 1 best; see objective.ts for the order). */
export function rankCells(scan: PreparedScan, cells: CellResult[]): RankedCell[] {
  return rank(cells, scan.spec.objective, scan.base.initialCash, scan.spec.maxDrawdown).map((r) => ({ ...r.item, rank: r.rank, objective: r.objective, eligible: r.eligible }));
}

/** The block-bootstrap paths of a monte_carlo scan computed elsewhere (a durable scan's batches): their stats and fan. */
export interface BlockPaths {
  stats: PathStats;
  /** filled for its first `paths` paths, at the steps blockFanSteps gives */
  fan: FanRecorder;
}

/** The bars (indexes) at which the block-bootstrap fan records each path's equity. */
export const blockFanSteps = (bars: BarColumns): number[] => fanSteps(bars.length - 1);

/**
 * monte_carlo: the base run (the scan's one cell) and the report, each method with its histograms and fan. The
 * block-bootstrap paths are computed here, or given (a durable scan computes them in batches; barPath makes each
 * path the same either way).
 */
export function monteCarloScan(bars: BarColumns, scan: PreparedScan, blockPaths?: BlockPaths, onProgress?: Progress): { cell: CellResult; report: MonteCarloReport } {
  const mc = scan.spec.monteCarlo;
  const cash = scan.base.initialCash;
  const block = mc.methods.includes('block-bootstrap');
  const total = 1 + (block && !blockPaths ? mc.paths : 0);
  const base = runWindow(bars, scan.base);
  onProgress?.(1, total);
  const pnl = base.run.roundTripPnl();
  const report: MonteCarloReport = { roundTrips: pnl.length };
  for (const method of ['shuffle', 'bootstrap'] as const) {
    if (!mc.methods.includes(method)) continue;
    const paths = tradePaths(pnl, cash, method, mc.paths, mc.seed);
    report[method] = { ...summarizePaths(paths, mc.lossThreshold), histograms: pathHistograms(paths), fan: tradeFan(pnl, cash, method, mc.paths, mc.seed) };
  }
  if (block) {
    let given = blockPaths;
    if (!given) {
      const fan = new FanRecorder(blockFanSteps(bars), mc.paths);
      given = { stats: barPaths(bars, scan.base, mc.blockBars, mc.paths, mc.seed, (k) => onProgress?.(1 + k, total), fan), fan };
    }
    const x = given.fan.steps.map((i) => bars.ts[i]);
    report.blockBootstrap = { ...summarizePaths(given.stats, mc.lossThreshold), histograms: pathHistograms(given.stats), fan: given.fan.fan('time', x), blockBars: mc.blockBars };
  }
  return { cell: baseCell(scan, base.result, base.run.fillCount), report };
}

/** black_swan's one cell: the unshocked run of the base settings. */
export function blackSwanCell(scan: PreparedScan, base: RunSummary): CellResult {
  return { cell: 0, params: { ...scan.base.params } as Record<string, number>, ...base };
}

/**
 * Runs a prepared scan in process on bars in memory: param_scan and optimization run their cells on the whole
 * series (plus walk-forward folds when asked); monte_carlo and black_swan run the base settings once and stress
 * that run. Deterministic: the same bars and request give the same result.
 */
export function runScan(bars: BarColumns, scan: PreparedScan, onProgress?: Progress): ScanResult {
  const { spec } = scan;
  if (bars.length === 0) throw specError(['bars'], 'no bars to scan');
  const total = scanSteps(scan, bars.length); // refuses impossible walk-forward windows before any run
  const from = (base: number): Progress => (k) => onProgress?.(Math.min(total, base + k), total);
  const result: ScanResult = { ...scanHeader(bars, scan), cells: [] };

  if (spec.type === 'param_scan' || spec.type === 'optimization') {
    result.cells = rankCells(scan, runCells(bars, scan, scan.cells, from(0)));
    if (spec.walkForward) {
      const wf = runWalkForward(bars, scan, from(scan.cells.length));
      result.folds = wf.folds;
      result.walkForward = wf.summary;
    }
    return result;
  }

  if (spec.type === 'monte_carlo') {
    const mc = monteCarloScan(bars, scan, undefined, onProgress);
    result.cells = rankCells(scan, [mc.cell]);
    result.monteCarlo = mc.report;
    return result;
  }

  const { base, ...blackSwan } = runBlackSwan(bars, scan.base, spec.blackSwan, onProgress);
  result.cells = rankCells(scan, [blackSwanCell(scan, base)]);
  result.blackSwan = blackSwan;
  return result;
}

/** The request without its settings and without the sections its type ignores. */
function relevantSpec(spec: PreparedScan['spec']): Partial<Omit<PreparedScan['spec'], 'settings'>> {
  const { settings: _settings, monteCarlo, blackSwan, ...rest } = spec;
  if (spec.type === 'monte_carlo') return { type: spec.type, monteCarlo };
  if (spec.type === 'black_swan') return { type: spec.type, blackSwan };
  return rest;
}

function baseCell(scan: PreparedScan, r: BacktestResult, fills: number): CellResult {
  return { cell: 0, params: { ...scan.base.params } as Record<string, number>, finalEquity: r.finalEquity, cash: r.cash, position: r.position, trades: fills, metrics: r.metrics };
}

const iso = (ts: number) => new Date(ts).toISOString();
