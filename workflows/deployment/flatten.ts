import { claimDeploymentCycle, loadRiskSnapshot, recordCycle, syncOrders } from './activities';
import type { Cycles } from './cycle';
import { orderOutcome } from '../../domain/deployment/evaluate';
import type { CycleRecord } from './messages';
import type { Runtime } from './runtime';
import { recordSummary } from './summaries';

/**
 * Closes every position of this deployment (a human's flatten, or the hard drawdown breaker), as a cycle of its own:
 * sync, read the positions, one reducing order per symbol held, a cycle row for every symbol.
 */
export async function flatten(rt: Runtime, cycles: Cycles, barClose: number): Promise<void> {
  const { spec, carry, deploymentId } = rt;
  // A batch-evaluated deployment's cycle numbers are given out in Postgres (its evaluator numbers the closes).
  const cycle = rt.batch ? await claimDeploymentCycle.executeWithOptions({ summary: 'flatten · claim a cycle number' }, [{ deploymentId }]) : carry.cycle + 1;
  carry.cycle = Math.max(carry.cycle, cycle);
  rt.waitingOn = `cycle ${cycle}: flattening`;
  await syncOrders.executeWithOptions({ summary: `cycle ${cycle} · flatten: sync orders` }, [{ deploymentId, broker: spec.broker, accountId: spec.accountId }]);
  const snap = await loadRiskSnapshot.executeWithOptions({ summary: `cycle ${cycle} · flatten: read positions` }, [{ deploymentId, accountId: spec.accountId, prices: {} }]);
  let leg = 0;
  for (const symbol of spec.symbols) {
    const qty = snap.positions[symbol] ?? 0;
    // A symbol with nothing to close still gets its row: the cycle number is taken, and every number has its rows.
    const record: CycleRecord = { cycle, barClose, symbol, action: 'skip', reason: 'flatten', clientOrderIds: [] };
    if (Math.abs(qty) < 1e-9) record.reason = 'flatten: no open position';
    else if (!rt.mayOrder(true)) record.reason = `flatten: deployment ${rt.shown()}, no order`;
    else Object.assign(record, orderOutcome(await cycles.order(cycle, leg++, { symbol, side: qty > 0 ? 'sell' : 'buy', qty: Math.abs(qty), price: 0, reason: 'flatten' }, true), 'flatten'));
    rt.remember(record);
    await recordCycle.executeWithOptions({ summary: recordSummary(rt, record, carry.paramsVersion) }, [{ deploymentId, paramsVersion: carry.paramsVersion, latencyMs: 0, positions: snap.positions, totalPnl: snap.totalPnl, record }]);
  }
  if (leg > 0 && carry.status !== 'stopping') await cycles.syncAfterOrders();
  // Actions the evaluator decided while this ran were decided on the positions it closed (acts.ts skips them).
  if (rt.batch) carry.flattenedAt = rt.dataNow();
}
