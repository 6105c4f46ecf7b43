import { compareApprovals, compareBars, compareCycles, compareOrders } from '../db/sql/deployment-compare';
import { getDeployment, getDeploymentParams } from '../db/sql/deployments';
import type { Queryable } from '../db/sql/queryable';
import { allocateBars, appendBar } from '../domain/bars';
import { timeframeMs } from '../domain/calendar';
import { compareSymbol, engineFills, summarize } from '../domain/deployment/compare';
import { decisionIndex, type CompareRow, type CompareSummary } from '../domain/deployment/compare-types';

/** Bars before the deployment's first decision: the runtime's own window (workflows/deployment/cycle.ts). */
const WARMUP_BARS = 300;
/** The longest window compared at once, in bars per symbol (a month of 1-minute bars). */
export const MAX_COMPARE_BARS = 40_000;

export interface DeploymentComparison {
  deploymentId: string;
  /** decision bar closes compared (null when the deployment has not run a cycle yet) */
  window: { from: number; to: number } | null;
  /** the params version the engine ran with (the deployment's first) */
  paramsVersion: number;
  rows: CompareRow[];
  summary: CompareSummary;
}

/** The window is longer than MAX_COMPARE_BARS bars: the caller narrows it. */
export class CompareWindowError extends RangeError {}

/** A deployment the engine cannot stand in for (a scanner: the engine has no universe ranking and no K slots). */
export class NotComparableError extends Error {}

/**
 * Live against backtest for one deployment: its fills (orders and fills tables) next to the engine's backtest of the
 * same bars and params over the same window, trade by trade, each difference with its cause (domain/deployment/compare.ts).
 * The window is the decision bar closes in [from, to], by default (and at most) every cycle the deployment ran. Undefined: no such deployment.
 */
export async function compareDeployment(db: Queryable, deploymentId: string, range: { from?: string; to?: string } = {}): Promise<DeploymentComparison | undefined> {
  const d = await getDeployment(db, deploymentId);
  if (!d) return undefined;
  const { spec } = d;
  if (spec.scanner) throw new NotComparableError(`deployment ${d.id} is a scanner: the engine backtests each symbol alone, without the universe's ranking and its ${spec.scanner.maxPositions} slots, so there is nothing like for like to compare`);
  const [params, orders, cycles, approvals] = await Promise.all([getDeploymentParams(db, d.id, 1), compareOrders(db, d.id), compareCycles(db, d.id), compareApprovals(db, d.id)]);
  const empty = { deploymentId: d.id, paramsVersion: 1, rows: [], summary: summarize([]) };
  if (cycles.length === 0) return { ...empty, window: null };
  const closes = cycles.map((c) => c.barClose);
  const start = Math.min(...closes);
  const from = range.from !== undefined ? Date.parse(range.from) : start;
  // never past the last cycle: bars the deployment has not reached yet are not differences
  const to = Math.min(range.to !== undefined ? Date.parse(range.to) : Number.POSITIVE_INFINITY, Math.max(...closes));
  if (to < from) return { ...empty, window: { from, to } };
  const tf = timeframeMs(spec.timeframe);
  const span = Math.ceil((to - Math.min(from, start)) / tf);
  if (span > MAX_COMPARE_BARS) throw new CompareWindowError(`the window spans ${span} ${spec.timeframe} bars, more than ${MAX_COMPARE_BARS}: give a narrower from/to`);

  const rows: CompareRow[] = [];
  for (const symbol of spec.symbols) {
    const stored = await compareBars(db, symbol, spec.timeframe, start, to, WARMUP_BARS + 1, MAX_COMPARE_BARS + 1);
    const bars = allocateBars(stored.length);
    for (const b of stored) appendBar(bars, b);
    const engine = engineFills(spec, params ?? spec.params, bars, decisionIndex(bars, start), decisionIndex(bars, to));
    const mine = <T extends { symbol: string }>(xs: T[]) => xs.filter((x) => x.symbol === symbol);
    rows.push(...compareSymbol({ symbol, bars, engine, orders: mine(orders), cycles: mine(cycles), approvals: mine(approvals), fromMs: from, toMs: to }));
  }
  rows.sort((a, b) => a.decisionBar - b.decisionBar || a.symbol.localeCompare(b.symbol));
  return { deploymentId: d.id, window: { from, to }, paramsVersion: 1, rows, summary: summarize(rows) };
}
