import { BacktestRun, runBacktest } from '../../domain/backtest/engine';
import { bracketExit } from '../../domain/backtest/exits';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { downsampleEquity } from '../../domain/backtest/metrics';
import type { BacktestSettings, StrategyName } from '../../domain/backtest/types';
import type { BarColumns } from '../../domain/bars';
import { randomWalkBars } from '../../domain/synthetic';
import { bars, DAY, scripted, settings, T0, tradeBars } from './fixtures';

const iso = (i: number) => new Date(T0 + i * DAY).toISOString();

describe('fills', () => {
  test('an order created at the close of bar t fills at the open of bar t+1, not at the close of t', () => {
    const b = bars([
      [100, 101, 99, 100],
      [102, 103, 101, 102.5],
      [104, 106, 103, 105],
      [107, 108, 106, 107.5],
    ]);
    const r = runBacktest(b, settings(), { strategy: scripted({ 1: 1, 2: 0 }) });
    expect(r.trades).toEqual([
      { side: 'buy', time: iso(2), price: 104, qty: 1, fee: 0, reason: 'signal', realizedPnl: 0 },
      { side: 'sell', time: iso(3), price: 107, qty: 1, fee: 0, reason: 'signal', realizedPnl: 3 },
    ]);
    expect(r.position).toBe(0);
    expect(r.cash).toBe(10_003);
    expect(r.assumptions).toMatchObject({ fillRule: 'next-open', sizing: { mode: 'fixed-quantity', quantity: 1 }, intrabarPolicy: 'direction' });
  });

  test('equity-fraction sizing (the default): whole shares worth the fraction of equity at each fill, after costs', () => {
    const b = bars([100, 100, 110, 110, 120, 120]);
    const s = settings({ sizing: { mode: 'equity-fraction', fraction: 0.95 }, commissionPerOrder: 1, commissionRate: 0.001, slippageBps: 10 });
    const r = runBacktest(b, s, { strategy: scripted({ 0: 1, 1: 0, 2: 1, 3: 0 }) });
    const buy1 = 100 * 1.001;
    const q1 = Math.floor((0.95 * 10_000 - 1) / (buy1 * 1.001)); // 94
    expect(r.trades[0]).toMatchObject({ side: 'buy', price: expect.closeTo(buy1, 12), qty: q1 });
    const cashAfterFirst = 10_000 - q1 * buy1 - (1 + 0.001 * buy1 * q1) + q1 * 110 * 0.999 - (1 + 0.001 * 110 * 0.999 * q1);
    const buy2 = 110 * 1.001;
    const q2 = Math.floor((0.95 * cashAfterFirst - 1) / (buy2 * 1.001)); // resized from the equity after the first round trip
    expect(r.trades[2]).toMatchObject({ side: 'buy', qty: q2 });
    expect(q1).toBe(94);
    expect(q2).not.toBe(q1);
    expect(r.assumptions.sizing).toEqual({ mode: 'equity-fraction', fraction: 0.95 });
    expect(runBacktest(b, settings({ strategy: 'sma-cross' })).assumptions.sizing).toEqual({ mode: 'fixed-quantity', quantity: 1 });
    expect(runBacktest(b, parseBacktestSettings({ strategy: 'sma-cross' })).assumptions.sizing).toEqual({ mode: 'equity-fraction', fraction: 0.95 });
  });

  test('equity-fraction: a short is sized the same way; with nothing affordable there is no entry', () => {
    const b = bars([100, 100, 90, 90]);
    const short = runBacktest(b, settings({ allowShort: true, sizing: { mode: 'equity-fraction', fraction: 0.5 } }), { strategy: scripted({ 0: -1, 1: 0 }) });
    expect(short.trades.map((t) => [t.side, t.qty])).toEqual([
      ['sell', 50],
      ['buy', 50],
    ]);
    expect(short.cash).toBe(10_000 + 50 * 10);
    const poor = runBacktest(b, settings({ initialCash: 50, sizing: { mode: 'equity-fraction', fraction: 0.95 } }), { strategy: scripted({ 0: 1 }) });
    expect(poor.trades).toEqual([]);
    expect(poor.position).toBe(0);
  });

  test('sma-cross: the up-cross bar buys at the next open', () => {
    const b = bars([10, 10, 10, 9, 12, 13, 14, 15].map((c, i) => [c - 0.5 + i * 0.01, c + 1, c - 1, c] as [number, number, number, number]));
    const r = runBacktest(b, settings({ params: { period: 3 } }));
    // the close crosses its SMA(3) upwards on bar 4 -> buy at bar 5's open
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0]).toMatchObject({ side: 'buy', time: iso(5), price: b.open[5] });
  });

  test('commission and slippage arithmetic', () => {
    const b = bars([100, 100, 110, 110]);
    const s = settings({ quantity: 2, commissionPerOrder: 1, commissionRate: 0.001, slippageBps: 10 });
    const r = runBacktest(b, s, { strategy: scripted({ 0: 1, 1: 0 }) });
    const buyPx = 100 * 1.001;
    const buyFee = 1 + 0.001 * buyPx * 2;
    const sellPx = 110 * 0.999;
    const sellFee = 1 + 0.001 * sellPx * 2;
    expect(r.trades[0].price).toBeCloseTo(buyPx, 12);
    expect(r.trades[0].fee).toBeCloseTo(buyFee, 12);
    expect(r.trades[1].price).toBeCloseTo(sellPx, 12);
    expect(r.trades[1].fee).toBeCloseTo(sellFee, 12);
    expect(r.trades[1].realizedPnl).toBeCloseTo((sellPx - buyPx) * 2 - buyFee - sellFee, 10);
    expect(r.cash).toBeCloseTo(10_000 - 2 * buyPx - buyFee + 2 * sellPx - sellFee, 9);
    expect(r.metrics.realizedPnl).toBeCloseTo(r.trades[1].realizedPnl, 12);
  });

  test('a short sells at open * (1 - bps) and covers at open * (1 + bps)', () => {
    const b = bars([100, 100, 90, 90]);
    const r = runBacktest(b, settings({ allowShort: true, slippageBps: 100 }), { strategy: scripted({ 0: -1, 1: 0 }) });
    expect(r.trades.map((t) => [t.side, t.price])).toEqual([
      ['sell', 99],
      ['buy', expect.closeTo(90.9, 10)],
    ]);
    expect(r.trades[1].realizedPnl).toBeCloseTo(99 - 90.9, 10);
  });

  test('a reversal is two fills at the same open: close, then open the other way', () => {
    const b = bars([100, 100, 101, 102, 103]);
    const r = runBacktest(b, settings({ allowShort: true }), { strategy: scripted({ 0: 1, 2: -1 }) });
    expect(r.trades.map((t) => [t.side, t.time, t.price, t.realizedPnl])).toEqual([
      ['buy', iso(1), 100, 0],
      ['sell', iso(3), 102, 2],
      ['sell', iso(3), 102, 0],
    ]);
    expect(r.position).toBe(-1);
    expect(r.metrics.unrealizedPnl).toBe(102 - 103);
  });

  test('shorts are ignored unless allowed (a -1 target only flattens)', () => {
    const b = bars([100, 100, 101, 102]);
    const r = runBacktest(b, settings(), { strategy: scripted({ 0: -1, 1: 1, 2: -1 }) });
    expect(r.trades.map((t) => t.side)).toEqual(['buy', 'sell']);
    expect(r.position).toBe(0);
  });

  test('open positions are not closed at the end; position, cash and unrealized PnL say so', () => {
    const b = bars([100, 100, 104, 108]);
    const r = runBacktest(b, settings({ commissionPerOrder: 2 }), { strategy: scripted({ 0: 1 }) });
    expect(r.trades).toHaveLength(1);
    expect(r.position).toBe(1);
    expect(r.cash).toBe(10_000 - 100 - 2);
    expect(r.finalEquity).toBe(10_000 - 102 + 108);
    expect(r.metrics.unrealizedPnl).toBe(108 - 100 - 2);
    expect(r.metrics.realizedPnl).toBe(0);
    expect(r.metrics.trades).toBe(0);
    expect(r.finalEquity).toBeCloseTo(10_000 + r.metrics.realizedPnl + r.metrics.unrealizedPnl, 9);
  });
});

describe('one order at a time', () => {
  test('a standing wish to be long buys once', () => {
    const b = bars([100, 101, 102, 103, 104, 105]);
    const always = scripted({ 0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1 });
    const r = runBacktest(b, settings(), { strategy: always });
    expect(r.trades).toHaveLength(1);
  });

  test('the order fills before the strategy is asked again, and one created on the last bar stays pending', () => {
    const b = bars([100, 101, 102, 103]);
    const s = scripted({ 0: 1, 3: 0 });
    const run = new BacktestRun(b, settings(), { strategy: s });
    run.runUntil(1);
    expect(run.pendingTarget).toBe(1); // created at bar 0's close, not filled yet
    expect(run.position).toBe(0);
    run.runUntil(4);
    expect(s.calls).toEqual([
      { i: 0, position: 0 },
      { i: 1, position: 1 }, // filled at bar 1's open, before bar 1's decision
      { i: 2, position: 1 },
      { i: 3, position: 1 },
    ]);
    expect(run.pendingTarget).toBe(0); // the exit wish of the last bar: no bar left to fill it
    const r = run.finish();
    expect(r.position).toBe(1);
    expect(r.trades).toHaveLength(1);
  });

  test('the strategy is not asked before its warm-up', () => {
    const s = scripted({}, { warmup: 3 });
    runBacktest(bars([1, 2, 3, 4, 5]), settings(), { strategy: s });
    expect(s.calls.map((c) => c.i)).toEqual([2, 3, 4]);
  });
});

describe('intrabar take-profit / stop-loss', () => {
  // bar 0 signals a buy, bar 1 fills it at 100 (levels: TP 105, SL 95), bar 2 is the bar under test
  const run = (bar2: [number, number, number, number], s: Partial<BacktestSettings> = {}, side = 1) => {
    const b = bars([100, [100, 101, 99, 100], bar2, [100, 101, 99, 100]]);
    return runBacktest(b, settings({ takeProfitPct: 0.05, stopLossPct: 0.05, allowShort: side < 0, ...s }), {
      strategy: scripted({ 0: side }),
    });
  };
  const exit = (r: ReturnType<typeof run>) => r.trades.slice(1).map((t) => ({ time: t.time, price: t.price, reason: t.reason }));

  test('a gap through the stop fills at the open', () => {
    expect(exit(run([90, 92, 88, 91]))).toEqual([{ time: iso(2), price: 90, reason: 'stop-loss' }]);
  });

  test('a gap through the take-profit fills at the open', () => {
    expect(exit(run([108, 109, 107, 108]))).toEqual([{ time: iso(2), price: 108, reason: 'take-profit' }]);
  });

  test('one level touched: filled at the level', () => {
    expect(exit(run([100, 106, 99, 104]))).toEqual([{ time: iso(2), price: 105, reason: 'take-profit' }]);
    expect(exit(run([100, 101, 94, 96]))).toEqual([{ time: iso(2), price: 95, reason: 'stop-loss' }]);
    expect(exit(run([100, 104, 96, 100]))).toEqual([]);
  });

  test("both touched, 'direction': an up bar goes open-high-low-close (TP first), a down bar open-low-high-close (SL first)", () => {
    expect(exit(run([100, 106, 94, 101]))).toEqual([{ time: iso(2), price: 105, reason: 'take-profit' }]);
    expect(exit(run([100, 106, 94, 100]))).toEqual([{ time: iso(2), price: 105, reason: 'take-profit' }]); // close == open counts as up
    expect(exit(run([100, 106, 94, 99]))).toEqual([{ time: iso(2), price: 95, reason: 'stop-loss' }]);
  });

  test("both touched, 'pessimistic': the stop, whatever the bar's direction", () => {
    expect(exit(run([100, 106, 94, 101], { intrabarPolicy: 'pessimistic' }))).toEqual([{ time: iso(2), price: 95, reason: 'stop-loss' }]);
  });

  test('shorts mirror it: levels below/above, an up bar reaches the (upper) stop first', () => {
    expect(exit(run([100, 106, 94, 101], {}, -1))).toEqual([{ time: iso(2), price: 105, reason: 'stop-loss' }]);
    expect(exit(run([100, 106, 94, 99], {}, -1))).toEqual([{ time: iso(2), price: 95, reason: 'take-profit' }]);
    expect(exit(run([110, 111, 109, 110], {}, -1))).toEqual([{ time: iso(2), price: 110, reason: 'stop-loss' }]);
  });

  test('the fill bar itself is checked after its open; levels are from the fill price incl. slippage', () => {
    const b = bars([100, [100, 100.5, 94, 96], 96]);
    const r = runBacktest(b, settings({ stopLossPct: 0.05, slippageBps: 100 }), { strategy: scripted({ 0: 1 }) });
    // entry 101, stop 95.95, touched in the fill bar; the stop fill also pays slippage: 95.95 * 0.99
    expect(r.trades[1]).toMatchObject({ time: iso(1), reason: 'stop-loss', price: expect.closeTo(101 * 0.95 * 0.99, 9) });
  });

  test("a strategy's stopPrice is used like a stop-loss; the tighter of it and stopLossPct wins", () => {
    const b = bars([100, [100, 101, 99, 100], [100, 100, 96, 97], [97, 97, 90, 91]]);
    const loose = runBacktest(b, settings(), { strategy: scripted({ 0: 1 }, { stop: (i, side, entry) => entry - side * 8 }) });
    expect(loose.trades[1]).toMatchObject({ time: iso(3), price: 92, reason: 'stop-loss' });
    const tighter = runBacktest(b, settings({ stopLossPct: 0.03 }), { strategy: scripted({ 0: 1 }, { stop: (i, side, entry) => entry - side * 8 }) });
    expect(tighter.trades[1]).toMatchObject({ time: iso(2), price: 97, reason: 'stop-loss' });
  });

  test('stopPrice gets the signal bar (the one before the fill)', () => {
    const seen: number[] = [];
    runBacktest(bars([100, 100, 100, 100]), settings(), {
      strategy: scripted({ 1: 1 }, { stop: (i) => (seen.push(i), NaN) }),
    });
    expect(seen).toEqual([1]);
  });

  test('bracketExit hand cases', () => {
    expect(bracketExit(1, 100, 106, 94, 101, 105, 95, false)).toBe(105);
    expect(bracketExit(1, 100, 106, 94, 101, 105, 95, true)).toBe(-95);
    expect(bracketExit(1, 100, 106, 94, 101, NaN, NaN, false)).toBe(0);
    expect(bracketExit(-1, 100, 106, 94, 99, 95, 105, false)).toBe(95);
  });
});

describe('accounting invariant: equity = cash + position * close on every bar', () => {
  const walk = randomWalkBars(3000, { seed: 17, halfRange: 0.01, wick: 0.01 });
  const cases: Array<[StrategyName, Record<string, number>, boolean]> = [];
  for (const allowShort of [false, true]) {
    cases.push(['sma-cross', { fast: 5, slow: 20 }, allowShort]);
    cases.push(['rsi-reversion', { period: 7, oversold: 35, overbought: 65, exit: 50 }, allowShort]);
    cases.push(['donchian-breakout', { entry: 10, exit: 5, atrPeriod: 7, atrStop: 1.5 }, allowShort]);
  }

  test.each(cases)('%s %j allowShort=%s, with commission, slippage and brackets', (strategy, params, allowShort) => {
    for (const bracket of [{}, { takeProfitPct: 0.03, stopLossPct: 0.02 }]) {
      const s = settings({ strategy, params, allowShort, quantity: 3, commissionPerOrder: 0.5, commissionRate: 0.0007, slippageBps: 3, ...bracket });
      const run = new BacktestRun(walk, s, { keepEquity: true });
      run.runUntil(walk.length);
      const r = run.finish();
      const equity = run.equitySeries;
      expect(r.trades.length).toBeGreaterThan(20);
      // rebuild cash and position from the fills alone
      const at = tradeBars(walk, r.trades);
      let cash = s.initialCash;
      let pos = 0;
      let k = 0;
      let minPos = 0;
      for (let i = 0; i < walk.length; i++) {
        while (k < r.trades.length && at[k] === i) {
          const t = r.trades[k++];
          const sign = t.side === 'buy' ? 1 : -1;
          cash -= sign * t.qty * t.price + t.fee;
          pos += sign * t.qty;
        }
        minPos = Math.min(minPos, pos);
        expect(Math.abs(equity[i] - (cash + pos * walk.close[i]))).toBeLessThan(1e-7);
      }
      expect(Math.abs(pos)).toBeLessThanOrEqual(3);
      if (!allowShort) expect(minPos).toBe(0);
      else expect(minPos).toBe(-3);
      expect(r.position).toBe(pos);
      expect(r.cash).toBeCloseTo(cash, 7);
      expect(r.finalEquity).toBeCloseTo(r.cash + r.position * walk.close[walk.length - 1], 7);
      expect(r.finalEquity).toBeCloseTo(s.initialCash + r.metrics.realizedPnl + r.metrics.unrealizedPnl, 7);
      const realized = r.trades.reduce((a, t) => a + t.realizedPnl, 0);
      expect(r.metrics.realizedPnl).toBeCloseTo(realized, 7);
      if ('takeProfitPct' in bracket) expect(r.trades.some((t) => t.reason !== 'signal')).toBe(true);
    }
  });

  test('sma-cross long-only never shorts; with allowShort it does, reversing with two fills', () => {
    const longOnly = runBacktest(walk, settings({ params: { fast: 5, slow: 20 } }));
    let pos = 0;
    for (const t of longOnly.trades) {
      pos += t.side === 'buy' ? 1 : -1;
      expect(pos === 0 || pos === 1).toBe(true);
    }
    const both = runBacktest(walk, settings({ params: { fast: 5, slow: 20 }, allowShort: true }));
    const times = both.trades.map((t) => t.time);
    const reversals = times.filter((t, i) => i > 0 && times[i - 1] === t).length;
    expect(reversals).toBeGreaterThan(10);
    expect(both.trades.length).toBeGreaterThan(longOnly.trades.length);
  });
});

describe('metrics', () => {
  test('hand-computed case', () => {
    // o = h = l = c; buy at 100 (bar 1), sell at 120 (bar 3): +20; buy at 100 (bar 4), sell at 90 (bar 6): -10
    const b = bars([100, 100, 110, 120, 100, 100, 90, 80]);
    const r = runBacktest(b, settings({ initialCash: 1000 }), { strategy: scripted({ 0: 1, 2: 0, 3: 1, 5: 0 }) });
    // equity: 1000 1000 1010 1020 1020 1020 1010 1010
    expect(r.trades.map((t) => t.realizedPnl)).toEqual([0, 20, 0, -10]);
    expect(r.finalEquity).toBe(1010);
    const m = r.metrics;
    expect(m.totalReturn).toBeCloseTo(0.01, 12);
    expect(m.maxDrawdown).toBeCloseTo(10 / 1020, 12);
    expect(m.maxDrawdownBars).toBe(2); // peak at bar 5 (1020 again), below it on bars 6 and 7
    expect(m.trades).toBe(2);
    expect(m.winRate).toBe(0.5);
    expect(m.profitFactor).toBe(2);
    expect(m.expectancy).toBe(5);
    expect(m.exposure).toBe(4 / 8);
    expect(m.realizedPnl).toBe(10);
    expect(m.unrealizedPnl).toBe(0);
    // returns: 0, .01, 1/101, 0, 0, -10/1020, 0 over 7 bar-to-bar steps; daily bars: 252 per year
    const rets = [0, 0.01, 10 / 1010, 0, 0, -10 / 1020, 0];
    const mean = rets.reduce((a, x) => a + x, 0) / 7;
    const sd = Math.sqrt(rets.reduce((a, x) => a + (x - mean) ** 2, 0) / 6);
    expect(m.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(252), 9);
    const downside = Math.sqrt((10 / 1020) ** 2 / 7);
    expect(m.sortino).toBeCloseTo((mean / downside) * Math.sqrt(252), 9);
    expect(m.cagr).toBeCloseTo(Math.pow(1.01, 1 / ((7 * DAY) / (365.25 * DAY))) - 1, 9);
  });

  test('no trades: zeros, and a profit factor of Infinity with wins but no losses', () => {
    const flat = runBacktest(bars([100, 101, 102]), settings(), { strategy: scripted({}) });
    expect(flat.metrics).toMatchObject({ trades: 0, winRate: 0, profitFactor: 0, expectancy: 0, sharpe: 0, maxDrawdown: 0, exposure: 0 });
    const win = runBacktest(bars([100, 100, 110, 110]), settings(), { strategy: scripted({ 0: 1, 1: 0 }) });
    expect(win.metrics.profitFactor).toBe(Infinity);
  });

  test('a new peak reached while flat starts the next drawdown', () => {
    const b = bars([100, 100, 105, 110, 110, 110, 110, [110, 110, 100, 100], 100, 100]);
    const r = runBacktest(b, settings({ initialCash: 1000 }), { strategy: scripted({ 0: 1, 2: 0, 6: 1 }) });
    // equity 1000 1000 1005 1010 1010 1010 1010 1000 1000 1000: the peak lasts until bar 6
    expect(r.metrics.maxDrawdown).toBeCloseTo(10 / 1010, 12);
    expect(r.metrics.maxDrawdownBars).toBe(3);
    expect(r.metrics.exposure).toBe(5 / 10);
  });

  test('a drawdown of an open position counts; its duration runs to the end', () => {
    const r = runBacktest(bars([100, 100, 90, 95, 99]), settings({ initialCash: 100 }), { strategy: scripted({ 0: 1 }) });
    // equity 100 100 90 95 99: peak 100 at bar 1
    expect(r.metrics.maxDrawdown).toBeCloseTo(0.1, 12);
    expect(r.metrics.maxDrawdownBars).toBe(3);
  });
});

describe('chunks, equity curve, result shape', () => {
  const walk = randomWalkBars(20_000, { seed: 23 });
  const s = settings({ params: { fast: 7, slow: 25 }, allowShort: true, commissionRate: 0.0005, takeProfitPct: 0.004, stopLossPct: 0.003 });

  test('runUntil in chunks gives exactly the result of one run', () => {
    const whole = runBacktest(walk, s);
    for (const step of [1, 997, 8192, 8193]) {
      const run = new BacktestRun(walk, s);
      while (!run.done) run.runUntil(run.barsDone + step);
      expect(run.barsDone).toBe(walk.length);
      expect(run.finish()).toEqual(whole);
    }
    expect(whole.trades.length).toBeGreaterThan(100);
  });

  test("the equity curve keeps each bucket's lowest and highest bar, the first and the last, within equityPoints", () => {
    for (const points of [2, 3, 10, 500, 19_999, 20_000, 50_000]) {
      const run = new BacktestRun(walk, s, { keepEquity: true, equityPoints: points });
      run.runUntil(walk.length);
      const r = run.finish();
      expect(r.equityCurve.length).toBeLessThanOrEqual(points);
      expect(r.equityCurve[0]).toEqual({ ts: walk.ts[0], equity: run.equitySeries[0] });
      expect(r.equityCurve.at(-1)).toEqual({ ts: walk.ts[walk.length - 1], equity: r.finalEquity });
      expect(r.equityCurve).toEqual(downsampleEquity(walk.ts, run.equitySeries, walk.length, points));
      if (points >= 10) {
        const series = Array.from(run.equitySeries);
        expect(Math.min(...r.equityCurve.map((p) => p.equity))).toBe(Math.min(...series));
        expect(Math.max(...r.equityCurve.map((p) => p.equity))).toBe(Math.max(...series));
      }
    }
  });

  test('a partial result (finish before done) covers the bars done', () => {
    const run = new BacktestRun(walk, s);
    run.runUntil(5000);
    const r = run.finish();
    expect(r.bars).toBe(5000);
    expect(r.equityCurve.at(-1)!.ts).toBe(walk.ts[4999]);
  });

  test('trades are built on first read and serialize like a plain array', () => {
    const r = runBacktest(walk, s);
    const json = JSON.parse(JSON.stringify(r));
    expect(json.trades).toHaveLength(r.trades.length);
    expect(json.trades[0]).toEqual({ ...r.trades[0] });
    expect(structuredClone(r).trades).toEqual(json.trades);
    expect(Object.keys(r)).toEqual(['finalEquity', 'cash', 'position', 'trades', 'metrics', 'equityCurve', 'bars', 'assumptions']);
    expect(r.trades).toBe(r.trades);
  });

  test('an empty series', () => {
    const r = runBacktest(bars([]) as BarColumns, settings());
    expect(r).toMatchObject({ finalEquity: 10_000, cash: 10_000, position: 0, trades: [], equityCurve: [], bars: 0 });
  });

  test('trade times are exact ISO strings for any millisecond', () => {
    const b = bars([100, 100, 101]);
    b.ts[1] = Date.UTC(2024, 5, 30, 23, 59, 59, 7);
    b.ts[2] = Date.UTC(2024, 6, 1, 0, 0, 1, 999);
    const r = runBacktest(b, settings(), { strategy: scripted({ 0: 1, 1: 0 }) });
    expect(r.trades.map((t) => t.time)).toEqual(['2024-06-30T23:59:59.007Z', '2024-07-01T00:00:01.999Z']);
  });
});

describe('fill columns', () => {
  test('fillCount and roundTripPnl come from the columns: closing fills only, break-even and reversals included', () => {
    // long at bar 1's open (100), out at bar 2's open (100, break-even), short at 3 (reversal of nothing), reversed long at 4
    const b = bars([100, 100, 100, 110, 105, 108]);
    const run = new BacktestRun(b, settings({ allowShort: true }), { strategy: scripted({ 0: 1, 1: 0, 2: -1, 3: 1 }) });
    run.runUntil(b.length);
    const r = run.finish();
    expect(run.fillCount).toBe(r.trades.length);
    // fills: buy 100 (bar 1), sell 100 (bar 2, pnl 0), sell 110 (bar 3), buy 105 (bar 4, closes the short: +5), buy 105 (opens a long)
    expect(r.trades.map((t) => [t.side, t.price, t.realizedPnl])).toEqual([
      ['buy', 100, 0],
      ['sell', 100, 0],
      ['sell', 110, 0],
      ['buy', 105, 5],
      ['buy', 105, 0],
    ]);
    expect(Array.from(run.roundTripPnl())).toEqual([0, 5]);
  });
});
