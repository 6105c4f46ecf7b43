import type { BarColumns } from '../bars';
import { runBacktest } from '../backtest/engine';
import type { BacktestSettings, TradeSide } from '../backtest/types';
import { createStrategy } from '../strategies';
import type { Strategy } from '../strategies/types';
import { explainPrice, explainQuantity, type ExplainContext, type Explained } from './compare-explain';
import { decisionIndex, EPS, iso, type CompareCause, type CompareRow, type CompareSummary, type CompareSymbolInput, type CycleFact, type ApprovalFact, type DifferenceKind, type EngineFill, type Group, type SideOfRow } from './compare-types';
import type { DeploymentSpec } from './spec';

/**
 * Live against backtest: a deployment's fills next to the engine's backtest of the same bars and params, matched
 * by the bar each side decided on, and every difference explained by a cause drawn from recorded facts (the
 * cycle audit, the ledger, the fills, the approval rows). Pure: the caller loads the facts and runs the engine.
 *
 * The sides meet on the decision bar: the engine fills a signal at the open of the bar after the one it decided on
 * (an exit inside the bar that touched its level); the deployment decides at the bar's close and its cycle row
 * names the bar. A reversal is two engine fills and one deployment order: quantities are netted per decision bar.
 * While the positions differ after a difference, later differences that have no cause of their own carry it on.
 */

/**
 * The engine's fills for a deployment's symbol: the same strategy and params on the same bars, fixed quantity
 * spec.quantity, no costs (the paper broker charges none), the spec's exits, flat until the deployment's first
 * decision bar and no new decision after the window's last one.
 */
export function engineFills(spec: DeploymentSpec, params: Record<string, number | boolean>, bars: BarColumns, firstIndex: number, lastIndex: number): EngineFill[] {
  if (bars.length === 0) return [];
  const settings: BacktestSettings = {
    strategy: spec.strategy, params, initialCash: spec.riskLimits.maxExposure, sizing: { mode: 'fixed-quantity', quantity: spec.quantity },
    commissionPerOrder: 0, commissionRate: 0, slippageBps: 0, allowShort: spec.allowShort, intrabarPolicy: spec.exits?.intrabarPolicy ?? 'direction',
    ...(spec.exits?.takeProfitPct !== undefined ? { takeProfitPct: spec.exits.takeProfitPct } : {}),
    ...(spec.exits?.stopLossPct !== undefined ? { stopLossPct: spec.exits.stopLossPct } : {}),
    ...(spec.exits?.trailingStopPct !== undefined ? { trailingStopPct: spec.exits.trailingStopPct } : {}),
  };
  const strategy = windowedStrategy(createStrategy(spec.strategy, bars, params, { allowShort: spec.allowShort }), firstIndex, lastIndex);
  const result = runBacktest(bars, settings, { strategy, equityPoints: 2 });
  return result.trades.map((t) => ({ ts: Date.parse(t.time), side: t.side, qty: t.qty, price: t.price, reason: t.reason }));
}

/**
 * The deployment's strategy for the engine: flat before the deployment's first decision bar (the deployment starts
 * flat there), no new decisions after `lastIndex`. Without the strategy's own stopPrice: the runtime uses only the
 * spec's exits.
 */
export function windowedStrategy(inner: Strategy, firstIndex: number, lastIndex: number): Strategy {
  return {
    warmup: inner.warmup,
    target: (i, position) => (i < firstIndex ? 0 : i > lastIndex ? Number.NaN : inner.target(i, position)),
    indicators: (i) => inner.indicators(i),
  };
}


/** The decision bar of an engine fill: the bar before a signal's fill bar, the fill bar itself for an exit. */
function engineDecision(bars: BarColumns, fill: EngineFill): number {
  const k = decisionIndex(bars, fill.ts + 1);
  return fill.reason === 'signal' || fill.reason === 'end' ? k - 1 : k;
}

function net(fills: Array<{ side: TradeSide; qty: number; price: number | null }>): SideOfRow {
  let qty = 0;
  let volume = 0;
  let notional = 0;
  for (const f of fills) {
    if (f.qty <= 0 || f.price === null) continue;
    qty += f.side === 'buy' ? f.qty : -f.qty;
    volume += f.qty;
    notional += f.qty * f.price;
  }
  return { netQty: qty, price: volume > 0 ? notional / volume : null, reasons: [] };
}

/** Compares one symbol. Rows are in decision-bar order; every row with a difference names its cause. */
export function compareSymbol(input: CompareSymbolInput): CompareRow[] {
  const { bars, symbol } = input;
  const tol = input.priceTolerance ?? 1e-9;
  const first = decisionIndex(bars, input.fromMs);
  const last = decisionIndex(bars, input.toMs);
  const groups = new Map<number, Group>();
  const group = (index: number) => groups.get(index) ?? groups.set(index, { index, engine: [], orders: [] }).get(index)!;
  for (const f of input.engine) {
    const k = engineDecision(bars, f);
    if (k >= 0 && k <= last) group(k).engine.push(f);
  }
  for (const o of input.orders) {
    const at = o.barClose ?? o.dataTs;
    const k = at === null ? -1 : decisionIndex(bars, at);
    if (k >= 0 && k <= last) group(k).orders.push(o);
  }
  const cycles = new Map<number, CycleFact>();
  for (const c of input.cycles) {
    // the bar's own cycle, not a flatten recorded on the same bar close (its orders name it)
    const k = decisionIndex(bars, c.barClose);
    if (!cycles.has(k)) cycles.set(k, c);
  }
  const approvals = new Map<number, ApprovalFact[]>();
  for (const a of input.approvals) {
    const k = decisionIndex(bars, a.barClose);
    approvals.set(k, [...(approvals.get(k) ?? []), a]);
  }
  // The params version the deployment started with (a later one came from a params command: a manual cause).
  const firstVersion = Math.min(...input.cycles.map((c) => c.paramsVersion), Number.POSITIVE_INFINITY);

  const rows: CompareRow[] = [];
  let posEngine = 0;
  let posDeployment = 0;
  /** the cause of the difference that made the positions differ, while they do */
  let carried: { cause: CompareCause; since: number } | null = null;
  for (const g of [...groups.values()].sort((a, b) => a.index - b.index)) {
    const filled = g.orders.filter((o) => o.filledQty > EPS);
    const engine = g.engine.length ? { ...net(g.engine), reasons: [...new Set(g.engine.map((f) => f.reason))] } : null;
    const deployment = filled.length
      ? {
          ...net(filled.map((o) => ({ side: o.side, qty: o.filledQty, price: o.avgPrice }))),
          reasons: [...new Set(filled.map((o) => o.reason ?? o.origin))],
          clientOrderIds: filled.map((o) => o.clientOrderId),
        }
      : null;
    if (!engine && !deployment) continue; // orders that never filled, on a bar the engine did not trade either
    const row: CompareRow = { symbol, decisionBar: bars.ts[g.index]!, engine, deployment, difference: null };
    const qe = engine?.netQty ?? 0;
    const qd = deployment?.netQty ?? 0;
    const ctx: ExplainContext = { g, bars, cycle: cycles.get(g.index), approvals: approvals.get(g.index) ?? [], firstVersion };
    let own = true;
    if (Math.abs(qe - qd) <= EPS) {
      const pe = engine?.price ?? null;
      const pd = deployment?.price ?? null;
      if (pe !== null && pd !== null && Math.abs(pe - pd) > tol * Math.max(1, Math.abs(pe))) row.difference = { kind: 'price', ...explainPrice(ctx, pe, pd) };
    } else {
      const kind: DifferenceKind = !deployment ? 'missing' : !engine ? 'extra' : 'quantity';
      const found = explainQuantity(ctx, qe);
      const diverged = Math.abs(posEngine - posDeployment) > EPS;
      if (!found && diverged && carried) own = false;
      const explained: Explained =
        found ??
        (diverged && carried
          ? { cause: carried.cause, detail: `follows from the ${carried.cause} difference on the bar of ${iso(carried.since)}: the positions differed before this bar (engine ${posEngine}, deployment ${posDeployment})` }
          : { cause: 'unexplained', detail: `engine ${qe}, deployment ${qd}; no recorded cause` });
      row.difference = { kind, ...explained };
    }
    posEngine += qe;
    posDeployment += qd;
    if (Math.abs(posEngine - posDeployment) <= EPS) carried = null;
    else if (row.difference && row.difference.kind !== 'price' && own) carried = { cause: row.difference.cause, since: row.decisionBar };
    // bars before the window only carry the positions into it
    if (g.index >= first) rows.push(row);
  }
  return rows;
}

/** Counts over the compared rows. */
export function summarize(rows: readonly CompareRow[]): CompareSummary {
  const byCause: Partial<Record<CompareCause, number>> = {};
  let engineTrades = 0;
  let deploymentTrades = 0;
  let matched = 0;
  let differences = 0;
  for (const r of rows) {
    if (r.engine && Math.abs(r.engine.netQty) > EPS) engineTrades++;
    if (r.deployment && Math.abs(r.deployment.netQty) > EPS) deploymentTrades++;
    if (!r.difference || r.difference.kind === 'price') matched++;
    if (r.difference) {
      differences++;
      byCause[r.difference.cause] = (byCause[r.difference.cause] ?? 0) + 1;
    }
  }
  return { engineTrades, deploymentTrades, matched, identical: rows.length - differences, differences, byCause };
}
