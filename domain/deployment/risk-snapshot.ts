import type { KillSwitchState } from '../risk/gate';
import type { EvaluationSnapshot } from './evaluate';
import type { PartialOrder } from './remainders';

/**
 * What one deployment's risk snapshot is computed from, as read from Postgres: a deployment's own cycle reads them
 * one statement each (activities/deployments.ts loadRiskSnapshot), the batch evaluator one statement per kind for
 * every member at once (activities/batch-snapshots.ts). Both go through riskSnapshotOf, so they decide on the same.
 */
export interface SnapshotReads {
  /** this deployment's signed quantity and cash flow per symbol, from its fills */
  mine: ReadonlyArray<{ symbol: string; qty: number; cashFlow: number }>;
  /** signed quantity and last fill price per symbol over the fills of every deployment on the account */
  account: ReadonlyArray<{ symbol: string; qty: number; lastPrice: number }>;
  /** symbols with an order of this deployment still open */
  pendingSymbols: readonly string[];
  kill: KillSwitchState;
  entryPrices: Record<string, number>;
  /** symbols with an approval request pending or approved */
  pendingApprovals: readonly string[];
  /** ledger orders with a partial fill whose remainder has no next version yet */
  partial: ReadonlyArray<Omit<PartialOrder, 'state'> & { state: string }>;
}

const bySymbol = (a: { symbol: string }, b: { symbol: string }) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);

/**
 * Positions, PnL and exposure at these prices (a deployment's own symbols' closes; the account's other symbols at
 * their last fill price). Sums run in symbol order and the symbol lists are sorted, so the result does not depend
 * on the order rows came back in (the floating-point sums would, in their last bits).
 */
export function riskSnapshotOf(r: SnapshotReads, prices: Record<string, number>): EvaluationSnapshot {
  const positions: Record<string, number> = {};
  let totalPnl = 0;
  let deploymentExposure = 0;
  for (const { symbol, qty, cashFlow } of [...r.mine].sort(bySymbol)) {
    const price = prices[symbol] ?? 0;
    positions[symbol] = qty;
    totalPnl += cashFlow + qty * price;
    deploymentExposure += Math.abs(qty) * price;
  }
  let accountExposure = 0;
  let accountOpenPositions = 0;
  for (const { symbol, qty, lastPrice } of [...r.account].sort(bySymbol)) {
    if (Math.abs(qty) < 1e-9) continue;
    accountOpenPositions++;
    accountExposure += Math.abs(qty) * (prices[symbol] ?? lastPrice);
  }
  const remainders = r.partial.map(
    (o): PartialOrder => ({ clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, qty: o.qty, filledQty: o.filledQty, state: o.state === 'PARTIAL' ? 'PARTIAL' : 'CANCELED', cycle: o.cycle, leg: o.leg, intentVersion: o.intentVersion }),
  );
  return {
    positions, pendingSymbols: [...r.pendingSymbols].sort(), totalPnl, deploymentExposure, accountExposure, accountOpenPositions, kill: r.kill,
    entryPrices: r.entryPrices, pendingApprovals: [...r.pendingApprovals].sort(), remainders,
  };
}
