import { ZodError } from 'zod';
import { BacktestSettingsSchema, parseBacktestSettings, validateStrategyParams } from '../../domain/backtest/settings';

function issues(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ZodError);
    return (err as ZodError).issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  }
  throw new Error('expected a ZodError');
}

test('defaults are filled in', () => {
  expect(parseBacktestSettings({ strategy: 'sma-cross' })).toEqual({
    strategy: 'sma-cross',
    params: { fast: 10, slow: 30 },
    initialCash: 10_000,
    sizing: { mode: 'equity-fraction', fraction: 0.95 },
    commissionPerOrder: 0,
    commissionRate: 0,
    slippageBps: 0,
    allowShort: false,
    intrabarPolicy: 'direction',
  });
  expect(parseBacktestSettings({ strategy: 'rsi-reversion' }).params).toEqual({ period: 14, oversold: 30, overbought: 70, exit: 50 });
  expect(parseBacktestSettings({ strategy: 'donchian-breakout' }).params).toEqual({ entry: 20, exit: 10, atrPeriod: 14, atrStop: 2 });
});

test('given values and brackets are kept', () => {
  const s = parseBacktestSettings({
    strategy: 'sma-cross',
    params: { period: 20 },
    initialCash: 5000,
    quantity: 3,
    commissionPerOrder: 1,
    commissionRate: 0.001,
    slippageBps: 5,
    allowShort: true,
    takeProfitPct: 0.04,
    stopLossPct: 0.02,
    intrabarPolicy: 'pessimistic',
  });
  expect(s).toMatchObject({ params: { period: 20 }, sizing: { mode: 'fixed-quantity', quantity: 3 }, takeProfitPct: 0.04, stopLossPct: 0.02, intrabarPolicy: 'pessimistic', allowShort: true });
});

test('sizing: quantity is fixed-quantity shorthand; sizing objects are checked; not both; the output parses to itself', () => {
  expect(parseBacktestSettings({ strategy: 'sma-cross', quantity: 7 }).sizing).toEqual({ mode: 'fixed-quantity', quantity: 7 });
  expect(parseBacktestSettings({ strategy: 'sma-cross', sizing: { mode: 'equity-fraction', fraction: 0.5 } }).sizing).toEqual({ mode: 'equity-fraction', fraction: 0.5 });
  expect(parseBacktestSettings({ strategy: 'sma-cross', sizing: { mode: 'fixed-quantity', quantity: 2 } })).not.toHaveProperty('quantity');
  expect(issues(() => parseBacktestSettings({ strategy: 'sma-cross', quantity: 1, sizing: { mode: 'equity-fraction', fraction: 0.5 } }))).toEqual([
    { path: 'quantity', message: 'give quantity (a fixed quantity) or sizing, not both' },
  ]);
  expect(issues(() => parseBacktestSettings({ strategy: 'sma-cross', sizing: { mode: 'equity-fraction', fraction: 1.5 } }))).toEqual([
    { path: 'sizing.fraction', message: 'sizing.fraction must be at most 1 (no leverage)' },
  ]);
  expect(issues(() => parseBacktestSettings({ strategy: 'sma-cross', sizing: { mode: 'all-in' } })).map((i) => i.path)).toEqual(['sizing.mode']);
  // the activity re-parses the settings the API stored: they must come back unchanged
  for (const input of [{ strategy: 'sma-cross' }, { strategy: 'sma-cross', quantity: 3 }, { strategy: 'rsi-reversion', sizing: { mode: 'equity-fraction', fraction: 0.25 } }]) {
    const once = parseBacktestSettings(input);
    expect(parseBacktestSettings(once)).toEqual(once);
  }
});

test('bad settings are reported with their paths', () => {
  const found = issues(() =>
    parseBacktestSettings({ strategy: 'macd', initialCash: -5, quantity: 0, slippageBps: -1, stopLossPct: 1.5, intrabarPolicy: 'random', extra: true }),
  );
  const paths = found.map((i) => i.path);
  for (const p of ['strategy', 'initialCash', 'quantity', 'slippageBps', 'stopLossPct', 'intrabarPolicy', '']) expect(paths).toContain(p);
  expect(found.find((i) => i.path === 'strategy')!.message).toMatch(/sma-cross, rsi-reversion, donchian-breakout/);
  expect(issues(() => parseBacktestSettings({ strategy: 'sma-cross', initialCash: Infinity })).map((i) => i.path)).toEqual(['initialCash']);
});

test('strategy params: errors at params.<name>', () => {
  expect(issues(() => parseBacktestSettings({ strategy: 'sma-cross', params: { fast: 30, slow: 10 } }))).toEqual([
    { path: 'params.fast', message: 'fast (30) must be smaller than slow (10)' },
  ]);
  expect(issues(() => validateStrategyParams('sma-cross', { period: 10, fast: 5 }))[0].path).toBe('params.fast');
  expect(issues(() => validateStrategyParams('sma-cross', { fast: 2.5 }))[0]).toEqual({ path: 'params.fast', message: 'fast must be a whole number of bars' });
  expect(issues(() => validateStrategyParams('sma-cross', { lookback: 5 }))[0]).toEqual({
    path: 'params.lookback',
    message: 'unknown parameter "lookback" for strategy sma-cross; expected one of: period, fast, slow',
  });
  expect(issues(() => validateStrategyParams('rsi-reversion', { oversold: 80 })).map((i) => i.path)).toEqual(['params.oversold', 'params.exit']);
  expect(issues(() => validateStrategyParams('donchian-breakout', { entry: 0, atrStop: true })).map((i) => i.path)).toEqual([
    'params.entry',
    'params.atrStop',
  ]);
});

test('validateStrategyParams normalizes', () => {
  expect(validateStrategyParams('sma-cross', { period: 5 })).toEqual({ period: 5 });
  expect(validateStrategyParams('sma-cross', { fast: 5 })).toEqual({ fast: 5, slow: 30 });
  expect(validateStrategyParams('donchian-breakout', { atrStop: 0 })).toEqual({ entry: 20, exit: 10, atrPeriod: 14, atrStop: 0 });
});

test('the schema can be used directly (safeParse)', () => {
  const r = BacktestSettingsSchema.safeParse({ strategy: 'rsi-reversion', params: { period: 0 } });
  expect(r.success).toBe(false);
  expect(r.error!.issues[0].path).toEqual(['params', 'period']);
});
