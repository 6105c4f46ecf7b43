import { allocateBars, appendBar, sliceBars, type BarColumns } from '../../domain/bars';
import { BacktestRun } from '../../domain/backtest/engine';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import type { StrategyName } from '../../domain/backtest/types';
import { sessionOn } from '../../domain/calendar';
import { CYCLE_LATE_GRACE_MS, decideCycle, DeploymentSpecSchema, parseDeploymentSpec, type CycleInput, type DeploymentSpec } from '../../domain/deployment';
import { recordedEvaluation } from '../../domain/deployment/spec';
import { RiskLimitsSchema } from '../../domain/risk';
import { createStrategy } from '../../domain/strategies';
import { randomWalkBars } from '../../domain/synthetic';

const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 9, 0, 0); // a Saturday: the 24x7 calendar does not care

/** 1m bars from closes (open = previous close), from T0 */
function minuteBars(closes: number[], t0 = T0, step = MIN): BarColumns {
  const b = allocateBars(closes.length);
  closes.forEach((c, i) => {
    const o = i > 0 ? closes[i - 1] : c;
    appendBar(b, { ts: t0 + i * step, open: o, high: Math.max(o, c), low: Math.min(o, c), close: c, volume: 100 });
  });
  return b;
}

const spec = (over: Record<string, unknown> = {}): DeploymentSpec =>
  parseDeploymentSpec({ strategy: 'sma-cross', params: { period: 3 }, symbols: ['AAPL'], timeframe: '1m', accountId: 'acc-1', calendar: '24x7', ...over });

/** the cycle right after the last bar closed */
const cycle = (bars: BarColumns, over: Partial<CycleInput> = {}) =>
  decideCycle({ bars, nowMs: bars.ts[bars.length - 1] + MIN + 2000, timeframeMs: MIN, spec: spec(), positionQty: 0, pendingOrder: false, ...over });

// closes: the close crosses over its SMA(3) at bar 4 and under it at bar 7
const CROSSES = [10, 10, 10, 9, 12, 12, 12, 8, 8];

describe('DeploymentSpec', () => {
  test('defaults and normalized params', () => {
    const s = parseDeploymentSpec({ strategy: 'sma-cross', symbols: ['AAPL', 'BRK.B'], timeframe: '5m', accountId: 'acc-1' });
    expect(s).toEqual({
      strategy: 'sma-cross',
      params: { fast: 10, slow: 30 },
      symbols: ['AAPL', 'BRK.B'],
      timeframe: '5m',
      accountId: 'acc-1',
      broker: 'paper',
      quantity: 1,
      allowShort: false,
      partialFills: 'cancel-and-replace',
      riskLimits: RiskLimitsSchema.parse({}),
      approvalPolicy: { mode: 'none' },
      calendar: 'XNYS',
      settleDelayMs: 2000,
      staleAfterBars: 2,
    });
    const r = parseDeploymentSpec({ strategy: 'rsi-reversion', symbols: ['BTC-USD'], timeframe: '1h', accountId: 'a', calendar: '24x7', riskLimits: { maxPositionQty: 3 } });
    expect(r.params).toEqual({ period: 14, oversold: 30, overbought: 70, exit: 50 });
    expect(r.riskLimits).toEqual(RiskLimitsSchema.parse({ maxPositionQty: 3 }));
  });

  test('evaluation: absent unless asked for (per deployment); explicit values kept; a scanner cannot be batch; the runtime reads the mode as recorded', () => {
    const base = { strategy: 'sma-cross', symbols: ['AAPL'], timeframe: '5m', accountId: 'a' };
    expect(parseDeploymentSpec(base).evaluation).toBeUndefined();
    expect(parseDeploymentSpec({ ...base, evaluation: 'deployment' }).evaluation).toBe('deployment');
    expect(parseDeploymentSpec({ ...base, evaluation: 'batch' }).evaluation).toBe('batch');
    const scanner = { ...base, eod: { marginMinutes: 5 }, scanner: { maxPositions: 1 } };
    expect(parseDeploymentSpec(scanner).evaluation).toBeUndefined();
    expect(DeploymentSpecSchema.safeParse({ ...scanner, evaluation: 'batch' }).error?.issues.map((i) => i.path.join('.'))).toEqual(['evaluation']);
    // what the runtime reads from a stored row: the recorded field; absent, per deployment
    expect(recordedEvaluation(parseDeploymentSpec({ ...base, evaluation: 'batch' }))).toBe('batch');
    expect(recordedEvaluation(parseDeploymentSpec(base))).toBe('deployment');
    expect(recordedEvaluation({ ...base, evaluation: 'deployment' })).toBe('deployment');
    expect(recordedEvaluation(null)).toBe('deployment');
  });

  test('approval policies', () => {
    const base = { strategy: 'sma-cross', symbols: ['AAPL'], timeframe: '1d', accountId: 'a' };
    for (const p of [{ mode: 'none' }, { mode: 'always' }, { mode: 'notional-above', threshold: 5000 }, { mode: 'tiers', tiers: [{ notionalAbove: 0, approvals: 1 }, { notionalAbove: 50_000, approvals: 2 }] }]) {
      expect(parseDeploymentSpec({ ...base, approvalPolicy: p }).approvalPolicy).toMatchObject(p);
    }
    expect(DeploymentSpecSchema.safeParse({ ...base, approvalPolicy: { mode: 'notional-above' } }).success).toBe(false);
    expect(DeploymentSpecSchema.safeParse({ ...base, approvalPolicy: { mode: 'sometimes' } }).success).toBe(false);
    const tiers = DeploymentSpecSchema.safeParse({ ...base, approvalPolicy: { mode: 'tiers', tiers: [{ notionalAbove: 10, approvals: 2 }, { notionalAbove: 5, approvals: 1 }] } });
    expect(tiers.error!.issues[0].message).toMatch(/increasing/);
  });

  test('validation errors carry paths', () => {
    const issues = (input: Record<string, unknown>) => {
      const r = DeploymentSpecSchema.safeParse({ strategy: 'sma-cross', symbols: ['AAPL'], timeframe: '1m', accountId: 'a', ...input });
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(issues({})).toEqual([]);
    expect(issues({ symbols: ['aapl'] })).toEqual(['symbols.0']);
    expect(issues({ symbols: [] })).toEqual(['symbols']);
    expect(issues({ symbols: Array.from({ length: 21 }, (_, i) => `S${i}`) })).toEqual(['symbols']);
    expect(issues({ symbols: ['AAPL', 'AAPL'] })).toEqual(['symbols']);
    expect(issues({ symbols: ['A'.repeat(33)] })).toEqual(['symbols.0']);
    expect(issues({ timeframe: '4h' })).toEqual(['timeframe']);
    expect(issues({ broker: 'ib' })).toEqual(['broker']);
    expect(issues({ calendar: 'XLON' })).toEqual(['calendar']);
    expect(issues({ quantity: 0 })).toEqual(['quantity']);
    expect(issues({ settleDelayMs: -1 })).toEqual(['settleDelayMs']);
    expect(issues({ staleAfterBars: 0 })).toEqual(['staleAfterBars']);
    expect(issues({ accountId: '' })).toEqual(['accountId']);
    expect(issues({ riskLimits: { maxExposure: -5 } })).toEqual(['riskLimits.maxExposure']);
    expect(issues({ extra: 1 })).toEqual(['']);
    expect(issues({ params: { bogus: 3 } })).toEqual(['params.bogus']);
    expect(issues({ params: { fast: 30, slow: 10 } })).toEqual(['params.fast']);
  });
});

describe('decideCycle', () => {
  test('order: an up-cross from flat buys the spec quantity at the last close', () => {
    const d = cycle(minuteBars(CROSSES.slice(0, 5)), { spec: spec({ quantity: 5 }) });
    expect(d).toEqual({
      action: 'order',
      intent: { symbol: 'AAPL', side: 'buy', qty: 5, price: 12, reason: 'signal' },
      signal: 1,
      indicators: { close: 12, sma: 31 / 3, cross: 1 },
    });
  });

  test('hold: the target is the position already held', () => {
    expect(cycle(minuteBars(CROSSES.slice(0, 5)), { spec: spec({ quantity: 5 }), positionQty: 5 })).toMatchObject({ action: 'hold', signal: 1 });
  });

  test('a target quantity different from the position (partial fill, new quantity) orders the difference', () => {
    expect(cycle(minuteBars(CROSSES.slice(0, 5)), { spec: spec({ quantity: 5 }), positionQty: 2 })).toMatchObject({ action: 'order', intent: { side: 'buy', qty: 3 } });
  });

  test('down-cross: long-only closes the long; with shorts one order of the difference reverses', () => {
    const b = minuteBars(CROSSES.slice(0, 8));
    expect(cycle(b, { spec: spec({ quantity: 2 }), positionQty: 2 })).toMatchObject({ action: 'order', signal: 0, intent: { side: 'sell', qty: 2, price: 8 } });
    expect(cycle(b, { spec: spec({ quantity: 2, allowShort: true }), positionQty: 2 })).toMatchObject({ action: 'order', signal: -1, intent: { side: 'sell', qty: 4 } });
    expect(cycle(b, { spec: spec({ quantity: 2 }), positionQty: 0 })).toMatchObject({ action: 'hold', signal: 0 });
  });

  test('no-signal: the strategy wants no change (indicators kept for the audit)', () => {
    const d = cycle(minuteBars(CROSSES.slice(0, 6)));
    expect(d).toMatchObject({ action: 'skip', reason: 'no-signal' });
    expect(d.action === 'skip' && d.indicators).toEqual({ close: 12, sma: 11, cross: 0 });
  });

  test('warmup: fewer bars than the strategy needs', () => {
    expect(cycle(minuteBars([10, 10, 10]))).toEqual({ action: 'skip', reason: 'warmup', detail: 'sma-cross needs 4 bars, has 3' });
    expect(cycle(minuteBars([10, 10, 10, 9]))).toMatchObject({ action: 'skip', reason: 'no-signal' });
  });

  test('pending-order: one order at a time', () => {
    expect(cycle(minuteBars(CROSSES.slice(0, 5)), { pendingOrder: true })).toMatchObject({ action: 'skip', reason: 'pending-order' });
  });

  test('stop-loss: a close at or beyond entry x (1 -/+ stopLossPct) closes the whole position before the strategy is asked', () => {
    const sl = spec({ stopLossPct: 0.1 });
    // long 2 from 10: the stop is 9 (the strategy alone sees no cross on these closes)
    const long = (last: number) => cycle(minuteBars([10, 10, 10, 10, last]), { spec: sl, positionQty: 2, entryPrice: 10 });
    expect(long(9.01)).toMatchObject({ action: 'skip', reason: 'no-signal' });
    expect(long(9)).toEqual({ action: 'order', intent: { symbol: 'AAPL', side: 'sell', qty: 2, price: 9, reason: 'stop-loss' }, signal: 0, indicators: { entryPrice: 10, stopPrice: 9, close: 9 } });
    // short 1 from 10: the stop is 11
    const short = (last: number) => cycle(minuteBars([10, 10, 10, 10, last]), { spec: spec({ stopLossPct: 0.1, allowShort: true }), positionQty: -1, entryPrice: 10 });
    expect(short(11)).toMatchObject({ action: 'order', intent: { side: 'buy', qty: 1, reason: 'stop-loss' } });
    expect(short(10.9)).not.toMatchObject({ intent: { reason: 'stop-loss' } });
    // no stop without stopLossPct, a position or a known entry price; an open order still comes first
    expect(cycle(minuteBars([10, 10, 10, 10, 5]), { positionQty: 2, entryPrice: 10 })).not.toMatchObject({ intent: { reason: 'stop-loss' } });
    expect(cycle(minuteBars([10, 10, 10, 10, 5]), { spec: sl, positionQty: 2 })).not.toMatchObject({ intent: { reason: 'stop-loss' } });
    expect(cycle(minuteBars([10, 10, 10, 10, 5]), { spec: sl, positionQty: 2, entryPrice: 10, pendingOrder: true })).toMatchObject({ action: 'skip', reason: 'pending-order' });
    expect(() => spec({ stopLossPct: 1 })).toThrow(/stopLossPct must be < 1/);
  });

  test('stale-data: the last bar closed more than staleAfterBars bars ago, or no bars', () => {
    const b = minuteBars(CROSSES.slice(0, 5));
    const lastClose = b.ts[4] + MIN;
    expect(cycle(b, { nowMs: lastClose + 2 * MIN })).toMatchObject({ action: 'order' });
    const stale = cycle(b, { nowMs: lastClose + 2 * MIN + 1 });
    expect(stale).toMatchObject({ action: 'skip', reason: 'stale-data' });
    expect(stale.action === 'skip' && stale.detail).toMatch(/more than 2 bars/);
    expect(cycle(b, { nowMs: lastClose + 5 * MIN, spec: spec({ staleAfterBars: 5 }) })).toMatchObject({ action: 'order' });
    expect(cycle(allocateBars(0), { nowMs: T0 })).toEqual({ action: 'skip', reason: 'stale-data', detail: 'no bars' });
  });

  test('market-closed: outside XNYS sessions, except right after the close', () => {
    const monday = sessionOn('XNYS', 20240311)!; // 13:30Z-20:00Z
    const xnys = spec({ calendar: 'XNYS' });
    const barsUntil = (closeMs: number) => minuteBars(CROSSES.slice(0, 5), closeMs - 5 * MIN);
    // inside the session
    expect(cycle(barsUntil(monday.open + 60 * MIN), { spec: xnys, nowMs: monday.open + 60 * MIN + 2000 })).toMatchObject({ action: 'order' });
    // the last bar of the session, decided just after the close
    expect(cycle(barsUntil(monday.close), { spec: xnys, nowMs: monday.close + 2000 })).toMatchObject({ action: 'order' });
    const patient = spec({ calendar: 'XNYS', staleAfterBars: 10 });
    expect(cycle(barsUntil(monday.close), { spec: patient, nowMs: monday.close + 2000 + CYCLE_LATE_GRACE_MS - 1 })).toMatchObject({ action: 'order' });
    // too late after the close, before the open, on a weekend, on a holiday
    const late = cycle(barsUntil(monday.close), { spec: patient, nowMs: monday.close + 2000 + CYCLE_LATE_GRACE_MS });
    expect(late).toMatchObject({ action: 'skip', reason: 'market-closed' });
    expect(late.action === 'skip' && late.detail).toBe('XNYS is closed at 2024-03-11T20:05:02.000Z; next session opens 2024-03-12T13:30:00.000Z');
    expect(cycle(barsUntil(monday.open - MIN), { spec: xnys, nowMs: monday.open - MIN })).toMatchObject({ reason: 'market-closed' });
    const saturday = Date.UTC(2024, 2, 9, 15, 0);
    expect(cycle(barsUntil(saturday), { spec: xnys, nowMs: saturday + 2000 })).toMatchObject({ reason: 'market-closed' });
    const july4 = Date.UTC(2024, 6, 4, 15, 0);
    expect(cycle(barsUntil(july4), { spec: xnys, nowMs: july4 + 2000 })).toMatchObject({ reason: 'market-closed' });
    // 24x7 is never closed
    expect(cycle(barsUntil(saturday), { nowMs: saturday + 2000 })).toMatchObject({ action: 'order' });
  });

  test('the strategy, params and symbol in force can differ from the spec', () => {
    const b = minuteBars(CROSSES.slice(0, 5));
    expect(cycle(b, { params: { period: 5 } })).toMatchObject({ action: 'skip', reason: 'warmup' });
    expect(cycle(b, { symbol: 'MSFT' })).toMatchObject({ action: 'order', intent: { symbol: 'MSFT' } });
    expect(cycle(minuteBars([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), { strategyName: 'rsi-reversion', params: { period: 3 } })).toMatchObject({ action: 'order', signal: 1 });
  });

  test('bad inputs throw', () => {
    const b = minuteBars(CROSSES);
    expect(() => cycle(b, { nowMs: Number.NaN })).toThrow(RangeError);
    expect(() => cycle(b, { timeframeMs: 0 })).toThrow(RangeError);
    expect(() => cycle(b, { positionQty: Number.NaN })).toThrow(RangeError);
  });
});

describe('decideCycle agrees with the backtest engine', () => {
  const cases: Array<[StrategyName, Record<string, number>, boolean]> = [
    ['sma-cross', { fast: 5, slow: 20 }, false],
    ['sma-cross', { period: 10 }, true],
    ['rsi-reversion', { period: 7, oversold: 40, overbought: 60, exit: 50 }, false],
    ['rsi-reversion', { period: 7, oversold: 40, overbought: 60, exit: 50 }, true],
    ['donchian-breakout', { entry: 10, exit: 5, atrPeriod: 5, atrStop: 1 }, false],
    ['donchian-breakout', { entry: 10, exit: 5, atrPeriod: 5, atrStop: 1 }, true],
  ];

  test.each(cases)('%s %j allowShort=%s: the signal on bar i equals decideCycle on bars [0..i]', (strategy, params, allowShort) => {
    const n = 400;
    const bars = randomWalkBars(n, { seed: 11, halfRange: 0.01, startTs: T0 });
    const run = new BacktestRun(bars, parseBacktestSettings({ strategy, params, allowShort, quantity: 1 }));
    const full = createStrategy(strategy, bars, params, { allowShort });
    const s = spec({ strategy, params, allowShort, quantity: 1 });
    let orders = 0;
    let holds = 0;
    for (let i = 0; i < n; i++) {
      run.runUntil(i + 1);
      const position = run.position;
      const engineOrder = run.pendingTarget; // NaN when the engine created no order at bar i's close
      const d = decideCycle({ bars: sliceBars(bars, 0, i + 1), nowMs: bars.ts[i] + MIN + 2000, timeframeMs: MIN, spec: s, positionQty: position, pendingOrder: false });
      if (i + 1 < full.warmup) {
        expect(d).toMatchObject({ action: 'skip', reason: 'warmup' });
        continue;
      }
      if (engineOrder === engineOrder) {
        orders++;
        if (d.action !== 'order' || d.signal !== engineOrder) throw new Error(`bar ${i}: engine ordered ${engineOrder}, cycle said ${JSON.stringify(d)}`);
        expect(d.intent.side).toBe(engineOrder * 1 - position > 0 ? 'buy' : 'sell');
        expect(d.intent.qty).toBe(Math.abs(engineOrder - position));
      } else {
        if (d.action === 'order') throw new Error(`bar ${i}: cycle ordered ${JSON.stringify(d)}, the engine did not`);
        if (d.action === 'hold') holds++;
        // same raw target as the strategy built on all bars
        const raw = full.target(i, position > 0 ? 1 : position < 0 ? -1 : 0);
        expect(d.action === 'skip' ? d.reason : 'hold').toBe(raw === raw ? 'hold' : 'no-signal');
      }
    }
    expect(orders).toBeGreaterThan(5);
    if (strategy === 'sma-cross' && !allowShort) expect(holds).toBeGreaterThan(0); // flat + down-cross: target 0 = flat
  });
});
