import { mulberry32 } from '../../domain/synthetic';
import {
  DEFAULT_RISK_LIMITS,
  evaluateRisk,
  isExposureReducing,
  KILL_SWITCH_OFF,
  latchBreaker,
  positionAfter,
  QTY_TOLERANCE,
  resetBreaker,
  RiskLimitsSchema,
  type KillSwitchState,
  type OrderIntent,
  type RiskLimits,
  type RiskState,
  type RiskVerdict,
} from '../../domain/risk';

const limits = (over: Partial<RiskLimits> = {}): RiskLimits =>
  RiskLimitsSchema.parse({
    maxPositionQty: 10,
    maxExposure: 5000,
    minOrderQty: 1,
    maxOpenPositions: 3,
    dailyLossLimit: 500,
    cooldownBarsAfterStopLoss: 3,
    drawdownSoftPct: 0.1,
    drawdownHardPct: 0.2,
    ...over,
  });

const state = (over: Partial<RiskState> = {}): RiskState => ({
  positionQty: 0,
  accountOpenPositions: 0,
  deploymentExposure: 0,
  accountExposure: 0,
  realizedPnlToday: 0,
  unrealizedPnl: 0,
  equityPeak: 10_000,
  equity: 10_000,
  barsSinceStopLoss: null,
  breaker: 'none',
  ...over,
});

const buy = (qty: number, price = 100): OrderIntent => ({ symbol: 'AAPL', side: 'buy', qty, price, reason: 'signal' });
const sell = (qty: number, price = 100): OrderIntent => ({ symbol: 'AAPL', side: 'sell', qty, price, reason: 'signal' });
const kill = (over: Partial<KillSwitchState> = {}): KillSwitchState => ({ ...KILL_SWITCH_OFF, ...over });
const rules = (v: RiskVerdict) => v.reasons.map((r) => r.rule);
const run = (intent: OrderIntent, s: Partial<RiskState> = {}, l: Partial<RiskLimits> = {}, k: Partial<KillSwitchState> = {}) =>
  evaluateRisk(intent, state(s), limits(l), kill(k));

describe('RiskLimitsSchema', () => {
  test('defaults', () => {
    expect(RiskLimitsSchema.parse({})).toEqual({
      maxPositionQty: 100,
      maxExposure: 10_000,
      minOrderQty: 0,
      maxOpenPositions: 10,
      dailyLossLimit: 500,
      cooldownBarsAfterStopLoss: 3,
      drawdownSoftPct: 0.1,
      drawdownHardPct: 0.2,
    });
    expect(DEFAULT_RISK_LIMITS).toEqual(RiskLimitsSchema.parse({}));
  });

  test('rejects bad values with paths', () => {
    const r = RiskLimitsSchema.safeParse({ maxPositionQty: -1, dailyLossLimit: 0, maxOpenPositions: 1.5, drawdownHardPct: 2, bogus: 1 });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.') || i.code);
    expect(paths).toEqual(expect.arrayContaining(['maxPositionQty', 'dailyLossLimit', 'maxOpenPositions', 'drawdownHardPct']));
    const soft = RiskLimitsSchema.safeParse({ drawdownSoftPct: 0.3, drawdownHardPct: 0.2 });
    expect(soft.error!.issues[0]).toMatchObject({ path: ['drawdownSoftPct'] });
  });
});

describe('isExposureReducing', () => {
  test.each([
    [5, 'sell', 3, true],
    [5, 'sell', 5, true],
    [5, 'sell', 6, false], // crosses to short
    [5, 'buy', 1, false],
    [-5, 'buy', 5, true],
    [-5, 'buy', 2, true],
    [-5, 'buy', 7, false],
    [-5, 'sell', 1, false],
    [0, 'sell', 1, false],
    [0, 'buy', 1, false],
    [5, 'sell', 0, false],
  ] as const)('position %d, %s %d -> %s', (pos, side, qty, expected) => {
    expect(isExposureReducing(pos, { side, qty })).toBe(expected);
  });

  // The boundaries of the one rule the gate and the kill-switch check share: QTY_TOLERANCE either side.
  const T = QTY_TOLERANCE;
  test.each([
    ['all of a long, exactly', 5, 'sell', 5, true],
    ['all of a long, plus the tolerance', 5, 'sell', 5 + T, true],
    ['all of a long, plus twice the tolerance', 5, 'sell', 5 + 2 * T, false],
    ['all of a short, plus the tolerance', -5, 'buy', 5 + T, true],
    ['all of a short, plus twice the tolerance', -5, 'buy', 5 + 2 * T, false],
    ['a float sum long 0.1 + 0.2, sell 0.3', 0.1 + 0.2, 'sell', 0.3, true],
    ['long 0.3, sell the float sum 0.1 + 0.2', 0.3, 'sell', 0.1 + 0.2, true],
    ['a position within the tolerance of 0 is flat', T / 2, 'sell', T / 2, false],
    ['a short within the tolerance of 0 is flat', -T, 'buy', T, false],
    ['just beyond the tolerance is a position', 2 * T, 'sell', 2 * T, true],
    ['qty 0', 5, 'sell', 0, false],
    ['negative qty', 5, 'sell', -1, false],
    ['NaN qty', 5, 'sell', Number.NaN, false],
    ['infinite qty', 5, 'sell', Number.POSITIVE_INFINITY, false],
    ['NaN position', Number.NaN, 'sell', 1, false],
    ['infinite position', Number.POSITIVE_INFINITY, 'sell', 1, false],
  ] as const)('%s', (_what, pos, side, qty, expected) => {
    expect(isExposureReducing(pos, { side, qty })).toBe(expected);
  });

  test('the risk gate judges an order the same way: within the tolerance it is allowed whole under every blocker', () => {
    const kill = { global: true, account: true, deployment: true };
    const state = { positionQty: 0.1 + 0.2, accountOpenPositions: 1, deploymentExposure: 30, accountExposure: 30, realizedPnlToday: 0, unrealizedPnl: 0, equityPeak: 1000, equity: 1000, barsSinceStopLoss: null, breaker: 'none' as const };
    const reduce = evaluateRisk({ symbol: 'X', side: 'sell', qty: 0.3, price: 100, reason: 'signal' }, state, RiskLimitsSchema.parse({}), kill);
    expect(reduce).toMatchObject({ decision: 'allow', qty: 0.3 });
    const over = evaluateRisk({ symbol: 'X', side: 'sell', qty: 0.3 + 1e-6, price: 100, reason: 'signal' }, state, RiskLimitsSchema.parse({}), kill);
    expect(over.decision).toBe('reduce'); // clipped to the position: the opening part is blocked by the kill switch
    expect(over.qty).toBeCloseTo(0.3, 12);
  });
});

describe('evaluateRisk: limits', () => {
  test('an order within every limit is allowed as is', () => {
    expect(run(buy(5))).toEqual({ decision: 'allow', qty: 5, reasons: [], breaker: 'none', forceClose: false });
  });

  test('max position: reduced to fit, rejected when nothing fits', () => {
    const v = run(buy(3), { positionQty: 5, deploymentExposure: 500, accountOpenPositions: 1 }, { maxPositionQty: 6 });
    expect(v).toMatchObject({ decision: 'reduce', qty: 1 });
    expect(v.reasons).toEqual([{ rule: 'max-position', detail: '5 + 3 > 6, reduced to 1' }]);
    const full = run(buy(1), { positionQty: 6, deploymentExposure: 600, accountOpenPositions: 1 }, { maxPositionQty: 6 });
    expect(full).toMatchObject({ decision: 'reject', qty: 0 });
    expect(full.reasons[0].detail).toBe('6 + 1 > 6, reduced to 0');
    // shorts count by size
    expect(run(sell(8), { positionQty: -5, deploymentExposure: 500, accountOpenPositions: 1 })).toMatchObject({ decision: 'reduce', qty: 5 });
  });

  test('max exposure of the deployment', () => {
    const v = run(buy(10), { deploymentExposure: 4500 });
    expect(v).toMatchObject({ decision: 'reduce', qty: 5 });
    expect(v.reasons).toEqual([{ rule: 'max-exposure', detail: '4500 + 10 x 100 = 5500 > 5000, reduced to 5' }]);
    expect(run(buy(1), { deploymentExposure: 5000 })).toMatchObject({ decision: 'reject', qty: 0 });
  });

  test('max exposure of the account (when set)', () => {
    expect(run(buy(5), { accountExposure: 1_000_000 })).toMatchObject({ decision: 'allow' });
    const v = run(buy(5), { accountExposure: 19_800 }, { maxAccountExposure: 20_000 });
    expect(v).toMatchObject({ decision: 'reduce', qty: 2 });
    expect(rules(v)).toEqual(['max-account-exposure']);
  });

  test('max open positions: a new symbol is rejected, an open one may grow', () => {
    const v = run(buy(1), { accountOpenPositions: 3 });
    expect(v).toMatchObject({ decision: 'reject' });
    expect(v.reasons).toEqual([{ rule: 'max-open-positions', detail: '3 open positions >= 3: no new symbol (AAPL)' }]);
    expect(run(buy(1), { positionQty: 2, deploymentExposure: 200, accountOpenPositions: 3 })).toMatchObject({ decision: 'allow', qty: 1 });
  });

  test('minimum order size after reductions', () => {
    const v = run(buy(5), { deploymentExposure: 4950 }); // room for 0.5
    expect(v).toMatchObject({ decision: 'reject', qty: 0 });
    expect(rules(v)).toEqual(['max-exposure', 'min-order-qty']);
    expect(v.reasons[1].detail).toBe('0.5 < 1, rejected');
    expect(run(buy(0.5), {}, { minOrderQty: 1 })).toMatchObject({ decision: 'reject' });
    const notional = run(buy(2, 10), {}, { minOrderNotional: 50 });
    expect(notional.reasons).toEqual([{ rule: 'min-order-notional', detail: '2 x 10 = 20 < 50, rejected' }]);
  });

  test('lot size: reductions rounded down to qtyStep', () => {
    const v = run(buy(10, 300), { deploymentExposure: 4000 }, { qtyStep: 1 });
    expect(v).toMatchObject({ decision: 'reduce', qty: 3 });
    expect(rules(v)).toEqual(['max-exposure', 'qty-step']);
    // without a lot size the quantity stays fractional
    expect(run(buy(10, 300), { deploymentExposure: 4000 }).qty).toBeCloseTo(10 / 3, 12);
  });

  test('a reversal: the closing part is free, the opening part meets the limits', () => {
    // long 5, sell 8: close 5, open 3 short; max position 2 -> sell 7
    const v = run(sell(8), { positionQty: 5, deploymentExposure: 500, accountOpenPositions: 1 }, { maxPositionQty: 2 });
    expect(v).toMatchObject({ decision: 'reduce', qty: 7 });
    expect(v.reasons[0].detail).toBe('0 + 3 > 2 (after closing long 5), reduced to 2');
    // exposure: closing 5 x 100 frees room for the new side
    expect(run(sell(15), { positionQty: 5, deploymentExposure: 5000, accountOpenPositions: 1 }, { maxPositionQty: 100 })).toMatchObject({ decision: 'reduce', qty: 10 });
  });
});

describe('evaluateRisk: kill switch', () => {
  test.each(['global', 'account', 'deployment'] as const)('%s: new exposure rejected, reductions allowed, reversals clipped to flatten', (scope) => {
    const open = run(buy(1), {}, {}, { [scope]: true });
    expect(open).toMatchObject({ decision: 'reject', qty: 0 });
    expect(open.reasons).toEqual([{ rule: `kill-switch:${scope}`, detail: `kill switch (${scope}) is on: only exposure-reducing orders; buy 1 from flat rejected` }]);
    const add = run(buy(1), { positionQty: 2, deploymentExposure: 200, accountOpenPositions: 1 }, {}, { [scope]: true });
    expect(add.decision).toBe('reject');
    const reduce = run(sell(2), { positionQty: 5, deploymentExposure: 500, accountOpenPositions: 1 }, {}, { [scope]: true });
    expect(reduce).toMatchObject({ decision: 'allow', qty: 2 });
    expect(reduce.reasons[0].rule).toBe(`kill-switch:${scope}`);
    expect(reduce.reasons[0].detail).toMatch(/allowed: sell 2 reduces long 5$/);
    const reversal = run(sell(8), { positionQty: 5, deploymentExposure: 500, accountOpenPositions: 1 }, {}, { [scope]: true });
    expect(reversal).toMatchObject({ decision: 'reduce', qty: 5 });
    expect(reversal.reasons[0].detail).toMatch(/clipped to flatten: sell 5 of 8 closes long 5$/);
    const cover = run(buy(3), { positionQty: -3, deploymentExposure: 300, accountOpenPositions: 1 }, {}, { [scope]: true });
    expect(cover).toMatchObject({ decision: 'allow', qty: 3 });
  });

  test('every scope that is on is reported; a missing flag counts as on (fail closed)', () => {
    expect(rules(run(buy(1), {}, {}, { global: true, deployment: true }))).toEqual(['kill-switch:global', 'kill-switch:deployment']);
    const v = evaluateRisk(buy(1), state(), limits(), { global: false, account: false } as KillSwitchState);
    expect(rules(v)).toEqual(['kill-switch:deployment']);
  });
});

describe('evaluateRisk: drawdown breaker', () => {
  test('hard: equity <= peak x (1 - hard) rejects new exposure and asks to force-close', () => {
    const v = run(buy(1), { equity: 8000 });
    expect(v).toMatchObject({ decision: 'reject', breaker: 'hard', forceClose: true });
    expect(v.reasons[0].rule).toBe('drawdown-hard');
    expect(v.reasons[0].detail).toContain('drawdown 20% (equity 8000, peak 10000), breaker hard at 20%');
    // closing is still allowed (that is what force-close needs)
    expect(run(sell(2), { equity: 8000, positionQty: 2, deploymentExposure: 200, accountOpenPositions: 1 })).toMatchObject({ decision: 'allow', qty: 2, forceClose: true });
  });

  test('soft: no new exposure, no force-close', () => {
    const v = run(buy(1), { equity: 8999 });
    expect(v).toMatchObject({ decision: 'reject', breaker: 'soft', forceClose: false });
    expect(rules(v)).toEqual(['drawdown-soft']);
    expect(run(buy(1), { equity: 9001 })).toMatchObject({ decision: 'allow', breaker: 'none' });
  });

  test('latched: stays until an explicit reset, and only goes up', () => {
    expect(run(buy(1), { breaker: 'soft', equity: 10_500 })).toMatchObject({ decision: 'reject', breaker: 'soft' });
    expect(run(buy(1), { breaker: 'hard', equity: 10_500 })).toMatchObject({ decision: 'reject', breaker: 'hard', forceClose: true });
    expect(run(buy(1), { breaker: 'soft', equity: 7000 })).toMatchObject({ breaker: 'hard', forceClose: true });
    expect(latchBreaker(state({ breaker: 'hard', equity: 9500 }), limits())).toBe('hard');
    expect(latchBreaker(state({ breaker: 'none', equity: 9500 }), limits())).toBe('none');
    // an unknown stored level fails closed
    expect(latchBreaker(state({ breaker: 'weird' as never }), limits())).toBe('hard');
  });

  test('resetBreaker: recorded by the caller, re-bases the peak, trading resumes', () => {
    const latched = state({ breaker: 'hard', equity: 7500 });
    const { state: after, audit } = resetBreaker(latched, 'alice', 'reviewed the losses, strategy paused and fixed');
    expect(after).toEqual({ ...latched, breaker: 'none', equityPeak: 7500 });
    expect(audit).toEqual({
      action: 'breaker-reset',
      from: 'hard',
      to: 'none',
      by: 'alice',
      reason: 'reviewed the losses, strategy paused and fixed',
      equity: 7500,
      previousPeak: 10_000,
      newPeak: 7500,
    });
    expect(latched.breaker).toBe('hard'); // not mutated
    expect(evaluateRisk(buy(1), after, limits(), kill())).toMatchObject({ decision: 'allow', breaker: 'none', forceClose: false });
    expect(() => resetBreaker(latched, '', 'x')).toThrow(/by/);
    expect(() => resetBreaker(latched, 'alice', '  ')).toThrow(/reason/);
  });
});

describe('evaluateRisk: daily loss, cooldown, invalid input', () => {
  test('daily loss limit reached: no new exposure', () => {
    const v = run(buy(1), { realizedPnlToday: -300, unrealizedPnl: -200 });
    expect(v).toMatchObject({ decision: 'reject' });
    expect(v.reasons[0]).toEqual({ rule: 'daily-loss', detail: 'day PnL -500 (realized -300 + unrealized -200) <= -500: no new exposure; buy 1 from flat rejected' });
    expect(run(buy(1), { realizedPnlToday: -300, unrealizedPnl: -199 })).toMatchObject({ decision: 'allow' });
    expect(run(sell(1), { realizedPnlToday: -900, positionQty: 1, deploymentExposure: 100, accountOpenPositions: 1 })).toMatchObject({ decision: 'allow' });
  });

  test('cooldown after a stop-loss', () => {
    const v = run(buy(1), { barsSinceStopLoss: 1 });
    expect(v).toMatchObject({ decision: 'reject' });
    expect(v.reasons[0].detail).toMatch(/^1 bars since a stop-loss < 3: no new exposure/);
    expect(run(buy(1), { barsSinceStopLoss: 3 })).toMatchObject({ decision: 'allow' });
    expect(run(buy(1), { barsSinceStopLoss: 0 }, { cooldownBarsAfterStopLoss: 0 })).toMatchObject({ decision: 'allow' });
  });

  test('several blockers are all reported', () => {
    const v = run(buy(1), { equity: 7000, realizedPnlToday: -600, barsSinceStopLoss: 0 }, {}, { account: true });
    expect(rules(v)).toEqual(['kill-switch:account', 'drawdown-hard', 'daily-loss', 'cooldown']);
  });

  test('invalid intents and states', () => {
    expect(rules(run(buy(0)))).toEqual(['invalid-intent']);
    expect(rules(run(buy(Number.NaN)))).toEqual(['invalid-intent']);
    expect(rules(run({ ...buy(1), side: 'hold' as never }))).toEqual(['invalid-intent']);
    expect(run(buy(1, Number.NaN))).toMatchObject({ decision: 'reject', reasons: [{ rule: 'invalid-intent' }] });
    // a reduction needs no price
    expect(run(sell(1, Number.NaN), { positionQty: 1, deploymentExposure: 100, accountOpenPositions: 1 })).toMatchObject({ decision: 'allow' });
    expect(run(buy(1), { equity: Number.NaN })).toMatchObject({ decision: 'reject', reasons: [{ rule: 'invalid-state' }] });
    expect(run(buy(1), { positionQty: Number.NaN })).toMatchObject({ decision: 'reject', reasons: [{ rule: 'invalid-state' }] });
  });

  test('deterministic and does not mutate its inputs', () => {
    const s = state({ positionQty: 5, deploymentExposure: 500, accountOpenPositions: 1 });
    const l = limits({ maxPositionQty: 6 });
    const i = buy(3);
    const copy = JSON.stringify([s, l, i]);
    const a = evaluateRisk(i, s, l, kill());
    const b = evaluateRisk(i, s, l, kill());
    expect(a).toEqual(b);
    expect(JSON.stringify([s, l, i])).toBe(copy);
  });
});

describe('evaluateRisk: properties over random states and intents', () => {
  // a small seeded PRNG so failures reproduce
  const rng = mulberry32;

  const EPS = 1e-9;

  test('allowed orders never exceed the limits; the kill switch never lets exposure grow', () => {
    const r = rng(20240311);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
    const counts = { allow: 0, reduce: 0, reject: 0 };
    for (let n = 0; n < 20_000; n++) {
      const price = pick([1, 9.5, 100, 333.33]);
      const pos = pick([0, 0, 1, -1, 5, -5, 12.5, -40, 0.3]);
      const l = limits({
        maxPositionQty: pick([1, 6, 10, 50]),
        maxExposure: pick([100, 1000, 5000, 1e6]),
        maxAccountExposure: pick([undefined, 2000, 1e6]),
        minOrderQty: pick([0, 1, 2]),
        minOrderNotional: pick([undefined, 0, 50]),
        qtyStep: pick([undefined, 1, 0.1]),
        maxOpenPositions: pick([1, 3, 10]),
        cooldownBarsAfterStopLoss: pick([0, 3]),
      });
      const depExp = Math.abs(pos) * price + pick([0, 0, 500, 4000]);
      const s = state({
        positionQty: pos,
        accountOpenPositions: (pos !== 0 ? 1 : 0) + pick([0, 1, 2, 9]),
        deploymentExposure: depExp,
        accountExposure: depExp + pick([0, 1000, 10_000]),
        realizedPnlToday: pick([0, -100, -600]),
        unrealizedPnl: pick([0, 50, -100]),
        equity: pick([10_000, 9500, 8900, 7000, 12_000]),
        equityPeak: 10_000,
        barsSinceStopLoss: pick([null, 0, 2, 10]),
        breaker: pick(['none', 'none', 'none', 'soft', 'hard'] as const),
      });
      const k = kill({ global: r() < 0.1, account: r() < 0.1, deployment: r() < 0.1 });
      const intent: OrderIntent = { symbol: 'X', side: r() < 0.5 ? 'buy' : 'sell', qty: pick([0.5, 1, 3, 7.25, 20, 100]), price, reason: 'signal' };
      const v = evaluateRisk(intent, s, l, k);
      counts[v.decision]++;
      const fail = (what: string) => new Error(`${what}: ${JSON.stringify({ intent, s, l, k, v })}`);

      if (!(v.qty >= 0 && v.qty <= intent.qty + EPS)) throw fail('qty out of range');
      if ((v.decision === 'reject') !== (v.qty === 0) || (v.decision === 'allow' && v.qty !== intent.qty)) throw fail('decision/qty mismatch');
      const after = positionAfter(pos, intent.side, v.qty);
      const held = pos * (intent.side === 'buy' ? 1 : -1) < 0 ? Math.abs(pos) : 0;
      const opened = v.qty - Math.min(v.qty, held);
      // a purely reducing order is always allowed in full
      if (isExposureReducing(pos, intent) && v.decision !== 'allow') throw fail('reduction blocked');
      // the latched breaker never goes down
      const level = { none: 0, soft: 1, hard: 2 };
      if (level[v.breaker] < level[s.breaker]) throw fail('breaker went down');
      if (v.forceClose !== (v.breaker === 'hard')) throw fail('forceClose mismatch');
      if (k.global || k.account || k.deployment || v.breaker !== 'none') {
        if (Math.abs(after) > Math.abs(pos) + EPS || after * pos < 0 || (pos === 0 && after !== 0)) throw fail('exposure grew while blocked');
      }
      if (opened > EPS) {
        if (v.breaker !== 'none' || k.global || k.account || k.deployment) throw fail('opened while blocked');
        if (s.realizedPnlToday + s.unrealizedPnl <= -l.dailyLossLimit) throw fail('opened past the daily loss');
        if (s.barsSinceStopLoss !== null && s.barsSinceStopLoss < l.cooldownBarsAfterStopLoss) throw fail('opened in cooldown');
        if (Math.abs(after) > l.maxPositionQty + EPS) throw fail('max position exceeded');
        const added = (Math.abs(after) - Math.abs(pos)) * price;
        if (added > EPS && s.deploymentExposure + added > l.maxExposure * (1 + EPS)) throw fail('max exposure exceeded');
        if (added > EPS && l.maxAccountExposure !== undefined && s.accountExposure + added > l.maxAccountExposure * (1 + EPS)) throw fail('account exposure exceeded');
        if (pos === 0 && s.accountOpenPositions >= l.maxOpenPositions) throw fail('max open positions exceeded');
        if (v.qty < l.minOrderQty - EPS) throw fail('below min qty');
        if (l.minOrderNotional !== undefined && v.qty * price < l.minOrderNotional - EPS) throw fail('below min notional');
        if (l.qtyStep !== undefined && v.decision === 'reduce') {
          const k2 = opened / l.qtyStep;
          if (Math.abs(k2 - Math.round(k2)) > 1e-6) throw fail('not a lot multiple');
        }
      }
    }
    // the generator reaches every outcome
    expect(counts.allow).toBeGreaterThan(1000);
    expect(counts.reduce).toBeGreaterThan(500);
    expect(counts.reject).toBeGreaterThan(1000);
  });
});
