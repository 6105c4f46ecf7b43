import { allocateBars, appendBar, sliceBars, type BarColumns } from '../../domain/bars';
import { decideCycle, parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment';
import type { ExitWatch } from '../../domain/deployment/exits';
import { compareSymbol, engineFills, summarize, windowedStrategy } from '../../domain/deployment/compare';
import { decisionIndex, type ApprovalFact, type CycleFact, type DeploymentOrder, type EngineFill } from '../../domain/deployment/compare-types';
import { createStrategy } from '../../domain/strategies';

const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 9, 0, 0);

/** 1m bars from closes; open = previous close + gap(i) */
function bars(closes: number[], gap: (i: number) => number = () => 0): BarColumns {
  const b = allocateBars(closes.length);
  closes.forEach((c, i) => {
    const o = (i > 0 ? closes[i - 1]! : c) + (i > 0 ? gap(i) : 0);
    appendBar(b, { ts: T0 + i * MIN, open: o, high: Math.max(o, c) + 0.05, low: Math.min(o, c) - 0.05, close: c, volume: 100 });
  });
  return b;
}

/** a zig-zag: sma-cross trades every few bars */
const zigzag = (n: number) => Array.from({ length: n }, (_, i) => 100 + 5 * Math.sin(i / 4) + i * 0.01);

const spec = (over: Record<string, unknown> = {}): DeploymentSpec =>
  parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: ['AAPL'], timeframe: '1m', accountId: 'acc-1', calendar: '24x7', quantity: 2, ...over });

interface Simulated {
  orders: DeploymentOrder[];
  cycles: CycleFact[];
}

/**
 * The runtime's decisions bar by bar from `start` (decideCycle on the bars so far, as the cycle does), each order
 * filled whole at the decision bar's close (the paper broker fills at the prices the cycle read). `veto` turns an
 * order into a recorded risk rejection.
 */
function simulate(b: BarColumns, s: DeploymentSpec, start: number, veto: (i: number) => boolean = () => false): Simulated {
  const orders: DeploymentOrder[] = [];
  const cycles: CycleFact[] = [];
  let pos = 0;
  let entryPrice: number | undefined;
  let exitWatch: ExitWatch | undefined;
  for (let i = start; i < b.length; i++) {
    const barClose = b.ts[i]! + MIN;
    const d = decideCycle({ bars: sliceBars(b, 0, i + 1), nowMs: barClose + 2000, timeframeMs: MIN, spec: s, positionQty: pos, pendingOrder: false, ...(entryPrice !== undefined ? { entryPrice } : {}), ...(exitWatch ? { exitWatch } : {}) });
    if (d.exitWatch !== undefined) exitWatch = d.exitWatch ?? undefined;
    if (d.action !== 'order') {
      cycles.push({ barClose, action: d.action, reason: d.action === 'skip' ? `${d.reason}: ${d.detail}` : null, risk: null, paramsVersion: 1 });
      continue;
    }
    if (veto(i)) {
      cycles.push({ barClose, action: 'rejected', reason: 'maxPositionQty: over', risk: { decision: 'reject', qty: 0, reasons: [{ rule: 'maxPositionQty', detail: 'over' }] }, paramsVersion: 1 });
      continue;
    }
    const { side, qty } = d.intent;
    cycles.push({ barClose, action: 'order', reason: 'signal', risk: { decision: 'allow', qty, reasons: [] }, paramsVersion: 1 });
    // an exit fills at its level (the runtime sets that price on the paper broker), a signal at the close
    const price = d.intent.reason === 'signal' ? b.close[i]! : d.intent.price;
    orders.push({ clientOrderId: `o${i}`, symbol: 'AAPL', side, qty, filledQty: qty, avgPrice: price, state: 'FILLED', rejectReason: null, origin: 'cycle', barClose, dataTs: barClose + 2000, reason: d.intent.reason });
    const before = pos;
    pos += side === 'buy' ? qty : -qty;
    if (pos === 0) entryPrice = undefined;
    else if (Math.sign(pos) !== Math.sign(before)) entryPrice = price;
  }
  return { orders, cycles };
}

function run(b: BarColumns, s: DeploymentSpec, sim: Simulated, start: number, extra: { approvals?: ApprovalFact[]; engine?: EngineFill[] } = {}) {
  const fromMs = b.ts[start]! + MIN;
  const toMs = b.ts[b.length - 2]! + MIN;
  const engine = extra.engine ?? engineFills(s, s.params, b, start, b.length - 2);
  const rows = compareSymbol({ symbol: 'AAPL', bars: b, engine, orders: sim.orders, cycles: sim.cycles, approvals: extra.approvals ?? [], fromMs, toMs });
  return { rows, summary: summarize(rows) };
}

describe('live against backtest', () => {
  test('the runtime decision and the engine agree bar for bar: every trade matches when the next open is the close', () => {
    for (const s of [spec(), spec({ allowShort: true }), spec({ exits: { takeProfitPct: 0.01, stopLossPct: 0.01 } })]) {
      const b = bars(zigzag(200));
      const sim = simulate(b, s, 20);
      const { rows, summary } = run(b, s, sim, 20);
      expect(summary.engineTrades).toBeGreaterThan(5);
      expect(summary).toMatchObject({ differences: 0, deploymentTrades: summary.engineTrades, matched: rows.length, identical: rows.length });
      if (s.exits) expect(rows.some((r) => r.engine!.reasons.some((x) => x !== 'signal'))).toBe(true);
    }
  });

  test('a gap between the close and the next open is a price difference explained as latency', () => {
    const s = spec();
    const b = bars(zigzag(120), (i) => (i % 2 ? 0.07 : -0.03));
    const { rows, summary } = run(b, s, simulate(b, s, 20), 20);
    expect(summary.differences).toBeGreaterThan(3);
    expect(summary.byCause).toEqual({ latency: summary.differences });
    const row = rows.find((r) => r.difference)!;
    expect(row.difference!.kind).toBe('price');
    expect(row.difference!.detail).toMatch(/at the decision bar's close/);
  });

  test('a risk rejection is explained by the risk gate, and the exit the deployment then never makes carries that cause', () => {
    const s = spec();
    const b = bars(zigzag(200));
    const firstBuy = simulate(b, s, 20).orders.find((o) => o.side === 'buy')!;
    const vetoed = decisionIndex(b, firstBuy.barClose!);
    const { rows, summary } = run(b, s, simulate(b, s, 20, (i) => i === vetoed), 20);
    const diffs = rows.filter((r) => r.difference);
    expect(diffs).toHaveLength(2);
    expect(diffs[0]).toMatchObject({ decisionBar: b.ts[vetoed], deployment: null, difference: { kind: 'missing', cause: 'risk' } });
    expect(diffs[0]!.difference!.detail).toMatch(/maxPositionQty/);
    expect(diffs[1]!.difference).toMatchObject({ kind: 'missing', cause: 'risk' });
    expect(diffs[1]!.difference!.detail).toMatch(/^follows from the risk difference/);
    expect(summary.byCause).toEqual({ risk: 2 });
  });

  test('an approval rejected or expired is the cause of the trade the deployment did not make', () => {
    const s = spec();
    const b = bars(zigzag(200));
    const sim = simulate(b, s, 20);
    const skipped = sim.orders.shift()!;
    const k = sim.cycles.findIndex((c) => c.barClose === skipped.barClose);
    sim.cycles[k] = { ...sim.cycles[k]!, action: 'approval', reason: 'awaiting approval (always)' };
    const approvals: ApprovalFact[] = [{ barClose: skipped.barClose!, status: 'rejected', side: skipped.side, qty: skipped.qty, outcome: 'rejected by alice' }];
    const { rows, summary } = run(b, s, sim, 20, { approvals });
    const first = rows.find((r) => r.difference)!;
    expect(first.difference).toMatchObject({ kind: 'missing', cause: 'approval' });
    expect(first.difference!.detail).toContain('rejected by alice');
    expect(summary.byCause.unexplained).toBeUndefined();
    expect(Object.keys(summary.byCause)).toEqual(['approval']);
  });

  test('a partial fill, a stale-data skip, a missing cycle, a liquidation and a flatten are each named; an unrecorded difference is unexplained', () => {
    const s = spec();
    const b = bars(zigzag(200));
    const base = simulate(b, s, 20);
    const [o1, o2, o3, o4] = base.orders;
    const partial: Simulated = { cycles: base.cycles, orders: base.orders.map((o) => (o === o1 ? { ...o, filledQty: 1, state: 'CANCELED' } : o)) };
    expect(run(b, s, partial, 20).rows.find((r) => r.difference)!.difference).toMatchObject({ kind: 'quantity', cause: 'partial-fill' });

    const stale: Simulated = { orders: base.orders.filter((o) => o !== o2), cycles: base.cycles.map((c) => (c.barClose === o2!.barClose ? { ...c, action: 'skip', reason: 'stale-data: no bars', risk: null } : c)) };
    expect(run(b, s, stale, 20).rows.find((r) => r.difference)!.difference).toMatchObject({ kind: 'missing', cause: 'stale-data' });

    const gone: Simulated = { orders: base.orders.filter((o) => o !== o3), cycles: base.cycles.filter((c) => c.barClose !== o3!.barClose) };
    expect(run(b, s, gone, 20).rows.find((r) => r.difference)!.difference).toMatchObject({ kind: 'missing', cause: 'skipped-cycle' });

    // an end-of-day close the engine does not know of, then a flatten by hand on another bar
    const at = o4!.barClose! + 3 * MIN;
    const liq: DeploymentOrder = { ...o4!, clientOrderId: 'liq', origin: 'liquidation', barClose: null, dataTs: at, reason: null, side: o4!.side === 'buy' ? 'sell' : 'buy' };
    const closes = run(b, s, { ...base, orders: [...base.orders, liq] }, 20).rows.filter((r) => r.difference);
    expect(closes[0]!.difference).toMatchObject({ kind: 'extra', cause: 'liquidation' });
    const flat: DeploymentOrder = { ...liq, clientOrderId: 'flat', origin: 'cycle', barClose: at, reason: 'flatten' };
    expect(run(b, s, { ...base, orders: [...base.orders, flat] }, 20).rows.find((r) => r.difference)!.difference).toMatchObject({ kind: 'extra', cause: 'manual' });

    // a fill at a price no bar traded between the decision and the order is not latency
    const far: Simulated = { cycles: base.cycles, orders: base.orders.map((o) => (o === o1 ? { ...o, avgPrice: o.avgPrice! * 1.5 } : o)) };
    const farRow = run(b, s, far, 20).rows.find((r) => r.difference)!;
    expect(farRow.difference).toMatchObject({ kind: 'price', cause: 'unexplained' });
    expect(farRow.difference!.detail).toMatch(/outside what the bars traded/);

    // the same order with a fill the records do not account for
    const odd: Simulated = { cycles: base.cycles, orders: base.orders.map((o) => (o === o1 ? { ...o, filledQty: o.qty + 1, qty: o.qty + 1 } : o)) };
    expect(run(b, s, odd, 20).summary.byCause.unexplained).toBeGreaterThanOrEqual(1);
  });

  test('an order decided on the last stored bar has no engine fill: end-of-data', () => {
    const s = spec();
    const b = bars(zigzag(200));
    const sim = simulate(b, s, 20);
    const last = sim.orders[sim.orders.length - 1]!;
    const k = decisionIndex(b, last.barClose!);
    const cut = sliceBars(b, 0, k + 1);
    const rows = compareSymbol({ symbol: 'AAPL', bars: cut, engine: engineFills(s, s.params, cut, 20, k), orders: sim.orders, cycles: sim.cycles, approvals: [], fromMs: b.ts[20]! + MIN, toMs: last.barClose! });
    expect(rows[rows.length - 1]!.difference).toMatchObject({ kind: 'extra', cause: 'end-of-data' });
    expect(summarize(rows).byCause).toEqual({ 'end-of-data': 1 });
  });

  test('the engine stays flat before the first decision bar and decides nothing after the last', () => {
    const b = bars(zigzag(100));
    const inner = createStrategy('sma-cross', b, { fast: 3, slow: 8 }, { allowShort: false });
    const w = windowedStrategy(inner, 40, 60);
    expect(w.target(10, 0)).toBe(0);
    expect(w.target(45, 0)).toBe(inner.target(45, 0));
    expect(Number.isNaN(w.target(70, 1))).toBe(true);
    expect(decisionIndex(b, b.ts[5]! + MIN)).toBe(5);
    expect(decisionIndex(b, b.ts[0]!)).toBe(-1);
  });
});
