import type { BarColumns } from '../bars';
import type { FillReason, TradeSide } from '../backtest/types';

/** The facts and answers of the live-against-backtest comparison (./compare.ts). */
export const COMPARE_CAUSES = ['latency', 'partial-fill', 'risk', 'approval', 'stale-data', 'skipped-cycle', 'liquidation', 'manual', 'end-of-data', 'unexplained'] as const;
export type CompareCause = (typeof COMPARE_CAUSES)[number];

export type DifferenceKind = 'price' | 'quantity' | 'missing' | 'extra';

/** One engine fill (a Trade of the backtest result, its time as epoch ms). */
export interface EngineFill {
  ts: number;
  side: TradeSide;
  qty: number;
  price: number;
  reason: FillReason;
}

/** One ledger order of the deployment with its stored fills (summed). */
export interface DeploymentOrder {
  clientOrderId: string;
  symbol: string;
  side: TradeSide;
  qty: number;
  /** sum of its rows in the fills table, and their volume-weighted price (null with no fill) */
  filledQty: number;
  avgPrice: number | null;
  state: string;
  rejectReason: string | null;
  /** cycle: placed by the runtime's cycle (or a flatten); approval: by an approval workflow; liquidation: by an end-of-day liquidation */
  origin: 'cycle' | 'approval' | 'liquidation';
  /** the bar close of the cycle that decided it (null for a liquidation) */
  barClose: number | null;
  /** data time it was placed at (the ledger's data_ts) */
  dataTs: number | null;
  /** the deciding cycle row's reason (signal, flatten, stop-loss, remainder ...) */
  reason: string | null;
}

/** One cycle audit row of the symbol. */
export interface CycleFact {
  barClose: number;
  action: string;
  reason: string | null;
  /** the risk gate's verdict recorded with the row */
  risk: { decision?: string; qty?: number; reasons?: Array<{ rule: string; detail?: string }> } | null;
  paramsVersion: number;
}

/** One approval request of the symbol. */
export interface ApprovalFact {
  barClose: number;
  status: string;
  side: TradeSide;
  qty: number;
  outcome: string | null;
}

export interface CompareSymbolInput {
  symbol: string;
  /** the bars the engine ran on (ascending open times) */
  bars: BarColumns;
  engine: EngineFill[];
  orders: DeploymentOrder[];
  cycles: CycleFact[];
  approvals: ApprovalFact[];
  /** decision bar closes in [fromMs, toMs] are compared */
  fromMs: number;
  toMs: number;
  /** prices closer than this fraction are equal (default 1e-9) */
  priceTolerance?: number;
}

export interface SideOfRow {
  /** signed net quantity on the bar (buys +) */
  netQty: number;
  /** volume-weighted price of its fills (null without fills) */
  price: number | null;
  reasons: string[];
  clientOrderIds?: string[];
}

export interface CompareRow {
  symbol: string;
  /** open time of the bar both sides decided on, epoch ms */
  decisionBar: number;
  engine: SideOfRow | null;
  deployment: SideOfRow | null;
  difference: { kind: DifferenceKind; cause: CompareCause; detail: string } | null;
}

export interface CompareSummary {
  engineTrades: number;
  deploymentTrades: number;
  /** bars where both traded the same side and quantity (the price may differ) */
  matched: number;
  /** of those, the ones at the same price too */
  identical: number;
  differences: number;
  byCause: Partial<Record<CompareCause, number>>;
}

export const EPS = 1e-9;
export const iso = (ms: number) => new Date(ms).toISOString();

export interface Group {
  index: number;
  engine: EngineFill[];
  orders: DeploymentOrder[];
}

/** Index of the last bar that opened before `ms` (the bar a cycle at that close decided on), -1 when none. */
export function decisionIndex(bars: BarColumns, ms: number): number {
  let lo = 0;
  let hi = bars.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (bars.ts[mid]! < ms) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
