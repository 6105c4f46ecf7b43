import type { Bar } from '../../domain/bars';
import { parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment';
import { evaluateDeployment, evaluateSymbol, orderOutcome, remainderAfterCancel, remainderOrder, type EvaluationSnapshot, type SymbolAction } from '../../domain/deployment/evaluate';
import type { PartialOrder } from '../../domain/deployment/remainders';
import { afterOrder, openBar, riskStateOf, type DeploymentRiskState } from '../../domain/deployment/risk-state';
import { KILL_SWITCH_OFF } from '../../domain/risk/gate';

const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 9, 0, 0);
// the close crosses over its SMA(3) at bar 4 and under it at bar 7
const CROSSES = [10, 10, 10, 9, 12, 12, 12, 8, 8];

function minuteBars(closes: number[]): Bar[] {
  return closes.map((c, i) => {
    const o = i > 0 ? closes[i - 1]! : c;
    return { ts: T0 + i * MIN, open: o, high: Math.max(o, c), low: Math.min(o, c), close: c, volume: 100 };
  });
}

const spec = (over: Record<string, unknown> = {}): DeploymentSpec =>
  parseDeploymentSpec({ strategy: 'sma-cross', params: { period: 3 }, symbols: ['AAPL'], timeframe: '1m', accountId: 'acc-1', calendar: '24x7', ...over });

const snapshot = (over: Partial<EvaluationSnapshot> = {}): EvaluationSnapshot => ({
  positions: {}, pendingSymbols: [], totalPnl: 0, deploymentExposure: 0, accountExposure: 0, accountOpenPositions: 0, kill: KILL_SWITCH_OFF, ...over,
});

const fresh = (s: DeploymentSpec): DeploymentRiskState => ({ breaker: 'none', equityPeak: s.riskLimits.maxExposure, day: '', dayStartPnl: 0 });

/** The bar close right after bar `i` of `closes`, as the cycle sees it (bars up to i, decided 2 s after the close). */
function atBar(s: DeploymentSpec, closes: number[], i: number, riskState: DeploymentRiskState, over: Partial<Parameters<typeof evaluateDeployment>[0]> = {}) {
  const barClose = T0 + (i + 1) * MIN;
  return evaluateDeployment({
    spec: s, params: s.params, cycle: i + 1, barClose, nowMs: barClose + 2000, timeframeMs: MIN, snapshot: snapshot(), status: 'running', blockedBy: [],
    windows: { AAPL: minuteBars(closes.slice(0, i + 1)) }, riskState, ...over,
  });
}

const only = (ev: ReturnType<typeof evaluateDeployment>) => {
  expect(ev.perSymbol).toHaveLength(1);
  return ev.perSymbol[0]!;
};

describe('evaluateDeployment: one bar close of a deployment, no I/O', () => {
  test('entry, no signal while it holds, exit: over the bars, the risk state carried from bar to bar', () => {
    const s = spec();
    let state = fresh(s);
    const actions: SymbolAction['kind'][] = [];
    let position = 0;
    for (let i = 3; i < CROSSES.length; i++) {
      const ev = atBar(s, CROSSES, i, state, { snapshot: snapshot({ positions: { AAPL: position } }) });
      const { record, action } = only(ev);
      expect(record).toMatchObject({ cycle: i + 1, symbol: 'AAPL', barClose: T0 + (i + 1) * MIN });
      actions.push(action.kind);
      if (action.kind === 'order') {
        expect(record.risk?.decision).toBe('allow');
        position += action.intent.side === 'buy' ? action.intent.qty : -action.intent.qty;
        expect(action.reducing).toBe(i === 7);
        expect(action.fillAtLevel).toBe(false);
        expect(action.intent).toMatchObject({ symbol: 'AAPL', qty: 1, side: i === 4 ? 'buy' : 'sell', reason: 'signal' });
      } else expect(record).toMatchObject({ action: 'skip', reason: expect.stringMatching(/^no-signal: sma-cross: no change/) }); // sma-cross signals on crosses only
      expect(ev.flattenRequested).toBe(false);
      state = ev.nextRiskState;
    }
    // bar 3: no signal; 4 buys; 5, 6 keep the position; 7 sells; 8 stays flat
    expect(actions).toEqual(['none', 'order', 'none', 'none', 'order', 'none']);
    expect(state.day).toBe('20240309');
    expect(state.lastEquity).toBe(s.riskLimits.maxExposure);
  });

  test('the risk gate rejects: the record says why and nothing is ordered', () => {
    const s = spec();
    const ev = atBar(s, CROSSES, 4, fresh(s), { snapshot: snapshot({ kill: { ...KILL_SWITCH_OFF, global: true } }) });
    const { record, action } = only(ev);
    expect(action).toEqual({ kind: 'none' });
    expect(record.action).toBe('rejected');
    expect(record.reason).toMatch(/^kill-switch:global: kill switch \(global\) is on/);
    expect(record.risk?.decision).toBe('reject');
  });

  test('the drawdown breaker latches hard, asks for a flatten, and stays latched when equity recovers', () => {
    const s = spec();
    const first = atBar(s, CROSSES, 4, fresh(s), { snapshot: snapshot({ totalPnl: -2500 }) });
    expect(first.nextRiskState.breaker).toBe('hard');
    expect(first.flattenRequested).toBe(true);
    expect(only(first).record.action).toBe('rejected');
    const given = structuredClone(first.nextRiskState);
    // equity back at the peak: the breaker holds until an explicit reset
    const later = atBar(s, [...CROSSES.slice(0, 4), 12], 4, first.nextRiskState, { cycle: 6, snapshot: snapshot({ totalPnl: 0 }) });
    expect(later.nextRiskState.breaker).toBe('hard');
    expect(only(later).record.reason).toMatch(/drawdown-hard/);
    expect(first.nextRiskState).toEqual(given); // the state given is never changed
  });

  test('a stop-loss exit the broker took starts a cooldown that rejects the next entry', () => {
    const s = spec({ stopLossPct: 0.05 });
    const exit = atBar(s, CROSSES, 7, fresh(s), { snapshot: snapshot({ positions: { AAPL: 1 }, entryPrices: { AAPL: 12 } }) });
    const { action } = only(exit);
    expect(action).toMatchObject({ kind: 'order', reducing: true, fillAtLevel: true, intent: { side: 'sell', qty: 1, reason: 'stop-loss' } });
    // a refused order starts nothing; a filled one starts the cooldown at its cycle
    expect(afterOrder(exit.nextRiskState, 'AAPL', 8, 'stop-loss', 'REJECTED')).toBe(exit.nextRiskState);
    expect(afterOrder(exit.nextRiskState, 'AAPL', 8, 'signal', 'FILLED')).toBe(exit.nextRiskState);
    const cooled = afterOrder(exit.nextRiskState, 'AAPL', 8, 'stop-loss', 'FILLED');
    expect(cooled.stopLossCycles).toEqual({ AAPL: 8 });
    // an entry signal one cycle later (cycle 9): 1 bar since the stop-loss < 3
    const entry = atBar(s, CROSSES, 4, cooled, { cycle: 9 });
    expect(only(entry).record.reason).toMatch(/^cooldown: 1 bars since a stop-loss < 3/);
    // after the cooldown it goes out
    expect(only(atBar(s, CROSSES, 4, cooled, { cycle: 11 })).action.kind).toBe('order');
  });

  test('a new trading day starts the daily PnL from the snapshot; the same day keeps it', () => {
    const s = spec();
    const day1 = Date.UTC(2024, 2, 9, 10);
    const a = openBar(fresh(s), s, day1, { totalPnl: 50, positions: {} });
    expect(a.riskState).toMatchObject({ day: '20240309', dayStartPnl: 50, equityPeak: 10_050, lastEquity: 10_050 });
    const b = openBar(a.riskState, s, day1 + 3_600_000, { totalPnl: -400, positions: {} });
    expect(b.riskState).toMatchObject({ day: '20240309', dayStartPnl: 50, equityPeak: 10_050 });
    expect(b.equity).toBe(9_600);
    const c = openBar(b.riskState, s, day1 + 86_400_000, { totalPnl: -400, positions: {} });
    expect(c.riskState).toMatchObject({ day: '20240310', dayStartPnl: -400 });
  });

  test('blocked by reconciliation: nothing is decided and the record says by what', () => {
    const s = spec();
    const ev = atBar(s, CROSSES, 4, fresh(s), { blockedBy: ['unknown broker order b-1'] });
    expect(only(ev)).toMatchObject({ action: { kind: 'none' }, record: { action: 'skip', reason: 'blocked by reconciliation: unknown broker order b-1' } });
  });

  test('not running: the decision stands in the record, no order', () => {
    const s = spec();
    const ev = atBar(s, CROSSES, 4, fresh(s), { status: 'paused' });
    expect(only(ev)).toMatchObject({ action: { kind: 'none' }, record: { action: 'skip', reason: 'deployment paused: no order (signal)', signal: 1 } });
  });

  test('an approval policy turns an entry into an approval request with the rule', () => {
    const s = spec({ approvalPolicy: { mode: 'always' } });
    const { action } = only(atBar(s, CROSSES, 4, fresh(s)));
    expect(action).toMatchObject({ kind: 'approval', intent: { side: 'buy' }, verdict: { qty: 1 }, need: { rule: 'policy always' } });
    const awaiting = only(atBar(s, CROSSES, 4, fresh(s), { snapshot: snapshot({ pendingApprovals: ['AAPL'] }) }));
    expect(awaiting.record.reason).toBe('approval-pending: a request for AAPL awaits a decision');
  });

  test('a partial fill: cancel first, then the rest re-sent as the next intent version (the kill switch lets out only a reducing one)', () => {
    const s = spec();
    const order: PartialOrder = { clientOrderId: 'c-1', symbol: 'AAPL', side: 'buy', qty: 10, filledQty: 4, state: 'PARTIAL', cycle: 3, leg: 0, intentVersion: 1 };
    const ev = only(atBar(s, CROSSES, 4, fresh(s), { snapshot: snapshot({ positions: { AAPL: 4 }, remainders: [order] }) }));
    expect(ev.record.clientOrderIds).toEqual(['c-1']);
    if (ev.action.kind !== 'remainder') throw new Error(`expected a remainder, got ${ev.action.kind}`);
    expect(ev.action.step.action).toBe('cancel');
    expect(ev.action.price).toBe(12);
    const step = remainderAfterCancel(order, s.partialFills, { state: 'CANCELED', filledQty: 6 });
    expect(step).toMatchObject({ action: 'resend', qty: 4, intentVersion: 2 });
    const record = { ...ev.record };
    expect(remainderOrder(record, { ...ev.action, step }, { policy: s.partialFills, kill: KILL_SWITCH_OFF, status: 'running' })).toEqual({
      intent: { symbol: 'AAPL', side: 'buy', qty: 4, price: 12, reason: 'remainder (cancel-and-replace)' }, reducing: false, intentVersion: 2,
    });
    expect(record.reason).toMatch(/^partial fill: cancel-and-replace: buy 6 of 10 AAPL filled/);
    const halted = { ...ev.record };
    expect(remainderOrder(halted, { ...ev.action, step }, { policy: s.partialFills, kill: { ...KILL_SWITCH_OFF, account: true }, status: 'running' })).toBeUndefined();
    expect(halted).toMatchObject({ action: 'rejected', reason: expect.stringMatching(/not sent: kill switch \(account\) is on and it adds exposure$/) });
    // unconfirmed cancel: wait; filled meanwhile: nothing left
    expect(remainderAfterCancel(order, s.partialFills, { error: 'timeout' }).action).toBe('wait');
    expect(remainderAfterCancel(order, s.partialFills, { state: 'FILLED', filledQty: 10 }).action).toBe('none');
  });

  test('several symbols: each decided, missing bars recorded, the risk state taken from the carry as given', () => {
    const s = spec({ symbols: ['AAPL', 'MSFT'] });
    const carry = { ...fresh(s), cycle: 4, status: 'running', seenCommandIds: ['x'] };
    const state = riskStateOf(carry);
    expect(state).toEqual(fresh(s));
    const ev = atBar(s, CROSSES, 4, state, { windows: { AAPL: minuteBars(CROSSES.slice(0, 5)), MSFT: 'market data unavailable: down' } });
    expect(ev.perSymbol.map((p) => [p.symbol, p.action.kind, p.record.reason ?? null])).toEqual([['AAPL', 'order', null], ['MSFT', 'none', 'market data unavailable: down']]);
    const one = evaluateSymbol({ spec: s, params: s.params, cycle: 5, barClose: T0 + 5 * MIN, nowMs: T0 + 5 * MIN + 2000, timeframeMs: MIN, snapshot: snapshot(), equity: 10_000, status: 'running', blockedBy: [], decide: () => { throw new Error('no'); } }, state, 'AAPL', minuteBars(CROSSES.slice(0, 5)));
    expect(one.record).toMatchObject({ action: 'skip', reason: 'decision-failed: no' });
    expect(orderOutcome({ state: 'REJECTED', rejectReason: 'insufficient buying power', clientOrderId: 'c-2' }, 'signal')).toEqual({ action: 'rejected', reason: 'insufficient buying power', clientOrderIds: ['c-2'] });
  });
});
