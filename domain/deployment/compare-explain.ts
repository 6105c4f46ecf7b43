import type { BarColumns } from '../bars';
import { decisionIndex, EPS, iso, type ApprovalFact, type CompareCause, type CycleFact, type Group } from './compare-types';

/** Why one compared bar differs, from the facts recorded on it (see ./compare.ts). */
export interface ExplainContext {
  g: Group;
  bars: BarColumns;
  cycle: CycleFact | undefined;
  approvals: ApprovalFact[];
  firstVersion: number;
}

export type Explained = { cause: CompareCause; detail: string };

/** Same quantity, another price: the deployment's order went out after the engine's fill instant, or after an approval. */
export function explainPrice(ctx: ExplainContext, pe: number, pd: number): Explained {
  const { g, bars } = ctx;
  const prices = `deployment ${pd}, engine ${pe}`;
  const approved = g.orders.find((o) => o.origin === 'approval' && o.filledQty > EPS);
  if (approved) return { cause: 'approval', detail: `${prices}: the order waited for its approval and went out at data time ${approved.dataTs === null ? 'unknown' : iso(approved.dataTs)}` };
  const engineAt = Math.min(...g.engine.map((f) => f.ts));
  const filled = g.orders.filter((o) => o.filledQty > EPS && o.dataTs !== null);
  if (!filled.length) return { cause: 'unexplained', detail: `${prices}; no recorded order time` };
  const placedAt = Math.min(...filled.map((o) => o.dataTs!));
  const lastAt = Math.max(...filled.map((o) => o.dataTs!));
  if (placedAt < engineAt) return { cause: 'unexplained', detail: `${prices}; the deployment ordered at ${iso(placedAt)}, before the engine's fill at ${iso(engineAt)}` };
  // Latency only when the price is one the market traded between the decision bar and the bar the order went out in.
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let i = g.index; i <= Math.max(g.index, decisionIndex(bars, lastAt + 1)); i++) {
    low = Math.min(low, bars.low[i]!);
    high = Math.max(high, bars.high[i]!);
  }
  const slack = 1e-9 * Math.max(1, Math.abs(pd));
  if (pd < low - slack || pd > high + slack) return { cause: 'unexplained', detail: `${prices}; ${pd} is outside what the bars traded from the decision bar to the order (${low} .. ${high})` };
  const close = bars.close[g.index]!;
  const atClose = Math.abs(pd - close) <= 1e-9 * Math.max(1, Math.abs(close));
  return { cause: 'latency', detail: `${prices}: the deployment ordered at data time ${iso(placedAt)}${atClose ? " at the decision bar's close" : ''}, the engine filled at ${iso(engineAt)}` };
}

const STALE = /^(stale-data|inputs unavailable|market data unavailable)/;
const PAUSED = /deployment (paused|stopping|stopped)/;
const EOD = /end of day: reduce-only|deployment exiting/;

/** Another quantity on this bar: the first recorded fact of this bar that accounts for it, or undefined. */
export function explainQuantity(ctx: ExplainContext, qe: number): Explained | undefined {
  const { g, cycle, bars } = ctx;
  if (Math.abs(qe) <= EPS && g.index + 1 >= bars.length) return { cause: 'end-of-data', detail: "the engine fills at the next bar's open and no later bar is stored" };
  const liquidation = g.orders.find((o) => o.origin === 'liquidation');
  if (liquidation) return { cause: 'liquidation', detail: `end-of-day liquidation order ${liquidation.clientOrderId} (${liquidation.side} ${liquidation.filledQty} of ${liquidation.qty})` };
  const flatten = g.orders.find((o) => o.reason === 'flatten');
  if (flatten) return { cause: 'manual', detail: `flatten command: order ${flatten.clientOrderId} (${flatten.side} ${flatten.filledQty})` };
  const partial = g.orders.find((o) => o.filledQty + EPS < o.qty && o.filledQty > EPS);
  if (partial) return { cause: 'partial-fill', detail: `order ${partial.clientOrderId} filled ${partial.filledQty} of ${partial.qty} (${partial.state})` };
  const refused = g.orders.find((o) => o.rejectReason !== null && o.filledQty <= EPS);
  if (refused && EOD.test(refused.rejectReason!)) return { cause: 'liquidation', detail: `order ${refused.clientOrderId} refused: ${refused.rejectReason}` };
  if (refused && /^kill switch/.test(refused.rejectReason!)) return { cause: 'manual', detail: `order ${refused.clientOrderId} refused: ${refused.rejectReason}` };
  const decided = ctx.approvals.find((a) => a.status === 'rejected' || a.status === 'expired' || a.status === 'failed' || a.status === 'pending');
  if (decided) return { cause: 'approval', detail: `approval request (${decided.side} ${decided.qty}) ${decided.status}${decided.outcome ? `: ${decided.outcome}` : ''}` };
  if (!cycle) return { cause: 'skipped-cycle', detail: `no cycle ran on the bar of ${iso(bars.ts[g.index]!)}` };
  const reason = cycle.reason ?? '';
  const verdict = cycle.risk;
  if ((verdict?.reasons ?? []).length > 0 && (cycle.action === 'rejected' || (verdict?.decision ?? 'allow') !== 'allow')) {
    return { cause: 'risk', detail: `risk gate ${verdict!.decision ?? 'reject'}: ${verdict!.reasons!.map((r) => `${r.rule}${r.detail ? `: ${r.detail}` : ''}`).join('; ')}` };
  }
  if (cycle.action === 'approval' || reason.startsWith('approval-pending')) return { cause: 'approval', detail: reason || 'awaiting approval' };
  if (STALE.test(reason)) return { cause: 'stale-data', detail: reason };
  if (EOD.test(reason)) return { cause: 'liquidation', detail: reason };
  if (PAUSED.test(reason)) return { cause: 'manual', detail: reason };
  if (/^(blocked by reconciliation|market-closed)/.test(reason)) return { cause: 'skipped-cycle', detail: reason };
  if (reason.startsWith('partial fill')) return { cause: 'partial-fill', detail: reason };
  if (reason.startsWith('pending-order')) return { cause: 'latency', detail: `${reason} (the earlier order had not filled by this bar)` };
  if (cycle.paramsVersion !== ctx.firstVersion) return { cause: 'manual', detail: `params command: the deployment decided with params v${cycle.paramsVersion}, the engine with v${ctx.firstVersion}` };
  return undefined;
}

