import type { Metrics } from '../backtest/types';

export const OBJECTIVES = ['net-profit', 'sharpe', 'sortino', 'calmar', 'profit-factor'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** What one backtest contributes to a ranking. */
export interface Scored {
  /** cell index in grid order (ties go to the smaller) */
  cell: number;
  finalEquity: number;
  metrics: Metrics;
}

/**
 * The objective's value, higher is better:
 *  - net-profit: finalEquity - initialCash (realized and unrealized);
 *  - sharpe, sortino: the backtest's annualized ratios (metrics.ts);
 *  - calmar: CAGR / max drawdown; with no drawdown, +Infinity for a positive CAGR, else the CAGR (0 or less);
 *  - profit-factor: gross win / gross loss of closed round trips (Infinity with wins and no losses, 0 with none).
 */
export function objectiveValue(objective: Objective, r: { finalEquity: number; metrics: Metrics }, initialCash: number): number {
  const m = r.metrics;
  switch (objective) {
    case 'net-profit':
      return r.finalEquity - initialCash;
    case 'sharpe':
      return m.sharpe;
    case 'sortino':
      return m.sortino;
    case 'calmar':
      return m.maxDrawdown > 0 ? m.cagr / m.maxDrawdown : m.cagr > 0 ? Infinity : m.cagr;
    case 'profit-factor':
      return m.profitFactor;
  }
}

export interface Ranked<T> {
  item: T;
  rank: number;
  objective: number;
  /** false when the max-drawdown constraint rules the cell out (it is ranked after every eligible cell) */
  eligible: boolean;
}

/**
 * Ranks scored runs: eligible (max drawdown <= maxDrawdown, when given) before ineligible, then by the objective
 * descending (NaN last), then by cell index ascending, so equal objectives go to the earlier cell in grid order.
 * Returns a new array; rank 1 is the best.
 */
export function rank<T extends Scored>(items: readonly T[], objective: Objective, initialCash: number, maxDrawdown?: number): Array<Ranked<T>> {
  const scored = items.map((item) => ({ item, rank: 0, ...scoreOf(item, objective, initialCash, maxDrawdown) }));
  scored.sort((a, b) => compareScores({ ...a, cell: a.item.cell }, { ...b, cell: b.item.cell }));
  scored.forEach((s, k) => (s.rank = k + 1));
  return scored;
}

/** A run's objective value and whether the max-drawdown constraint lets it compete (what a ranking sorts on). */
export function scoreOf(r: { finalEquity: number; metrics: Metrics }, objective: Objective, initialCash: number, maxDrawdown?: number): { objective: number; eligible: boolean } {
  return { objective: objectiveValue(objective, r, initialCash), eligible: maxDrawdown === undefined || r.metrics.maxDrawdown <= maxDrawdown };
}

/**
 * The ranking order: eligible first, NaN objectives last, higher objective first, then the earlier cell. Stored
 * scans rank in SQL with the same order (db/sql/stress-scan-cells.ts); a test holds the two together.
 */
export function compareScores(a: { objective: number; eligible: boolean; cell: number }, b: { objective: number; eligible: boolean; cell: number }): number {
  if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
  const an = Number.isNaN(a.objective);
  const bn = Number.isNaN(b.objective);
  if (an !== bn) return an ? 1 : -1;
  if (!an && a.objective !== b.objective) return a.objective > b.objective ? -1 : 1;
  return a.cell - b.cell;
}

/** The best of the scored runs (the first of rank()), or undefined when there are none. */
export function best<T extends Scored>(items: readonly T[], objective: Objective, initialCash: number, maxDrawdown?: number): Ranked<T> | undefined {
  return rank(items, objective, initialCash, maxDrawdown)[0];
}
