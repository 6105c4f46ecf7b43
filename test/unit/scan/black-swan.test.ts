import { allocateBars, appendBar, type BarColumns } from '../../../domain/bars';
import { BacktestRun, runBacktest } from '../../../domain/backtest/engine';
import { parseBacktestSettings } from '../../../domain/backtest/settings';
import { runBlackSwan } from '../../../domain/scan/black-swan';
import { CRISES } from '../../../domain/scan/crises';
import { measureEpisode } from '../../../domain/scan/episode';
import { ScanSpecError } from '../../../domain/scan/errors';
import { resolveBar, resolveShock, shockBars } from '../../../domain/scan/shocks';
import { mulberry32 } from '../../../domain/synthetic';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** One bar a day from `first` (YYYY-MM-DD), closes as given or a seeded walk; open = previous close. */
function daily(first: string, closes: number[] | number, seed = 1): BarColumns {
  const rnd = mulberry32(seed);
  const c = Array.isArray(closes) ? closes : Array.from({ length: closes }, (_, i) => 100 * Math.exp(0.3 * Math.sin(i / 40)) * (1 + (rnd() - 0.5) * 0.02));
  const b = allocateBars(c.length);
  const t0 = Date.parse(`${first}T00:00:00Z`);
  c.forEach((close, i) => {
    const open = i ? c[i - 1] : close;
    appendBar(b, { ts: t0 + i * DAY, open, high: Math.max(open, close) * 1.001, low: Math.min(open, close) * 0.999, close, volume: 1 });
  });
  return b;
}

describe('drawdown episodes', () => {
  const ts = Array.from({ length: 6 }, (_, i) => i * DAY);

  test('peak, trough and recovery, by hand', () => {
    // window bars 1..3 of 100 110 99 105 110 120: peak 110 (bar 1), trough 99 (bar 2), back at 110 on bar 4
    const e = measureEpisode([100, 110, 99, 105, 110, 120], ts, 6, 1, 4, 100);
    expect(e).toEqual({
      startEquity: 100,
      endEquity: 105,
      return: 105 / 100 - 1,
      maxDrawdown: 0.1, // 11 / 110
      peakAt: iso(DAY),
      troughAt: iso(2 * DAY),
      recovered: true,
      recoveredAt: iso(4 * DAY),
      recoveryBars: 2,
      recoveryDays: 2,
      underwaterBars: 3,
      underwaterDays: 3,
    });
  });

  test('not recovered by the end of the data; no drawdown at all', () => {
    const e = measureEpisode([100, 90, 95], ts, 3, 0, 3, 100);
    expect(e).toMatchObject({ startEquity: 100, maxDrawdown: 0.1, peakAt: null, troughAt: iso(DAY), recovered: false, recoveredAt: null, recoveryBars: null, recoveryDays: null, underwaterBars: 3, underwaterDays: 2 });
    expect(measureEpisode([100, 101, 102], ts, 3, 0, 3, 100)).toMatchObject({ maxDrawdown: 0, recovered: true, recoveryBars: 0, return: 102 / 100 - 1 });
  });
});

describe('shocks', () => {
  const b = daily('2020-01-01', [100, 110, 99, 100, 104]);

  test('a gap: every price from its bar on, times (1 - pct)', () => {
    const r = resolveShock(b, { kind: 'gap', pct: 0.2, at: '2020-01-03' }, 0);
    expect([r.from, r.to]).toEqual([2, 3]);
    const s = shockBars(b, r);
    expect(Array.from(s.close)).toEqual([100, 110, 99 * 0.8, 100 * 0.8, 104 * 0.8]);
    expect(s.open[1]).toBe(b.open[1]);
  });

  test('volatility x2 over bars 1..2, by hand', () => {
    const r = resolveShock(b, { kind: 'volatility', factor: 2, from: 1, to: 2 }, 0);
    const s = shockBars(b, r);
    // bar 1: +10 % becomes +20 % -> 120; bar 2: -10 % (99 / 110) becomes -20 % -> 96; then the original moves: x 96 / 99
    expect(s.close[1]).toBeCloseTo(120, 10);
    expect(s.close[2]).toBeCloseTo(96, 10);
    expect(s.close[3]).toBeCloseTo((100 * 96) / 99, 10);
    expect(s.close[4]).toBeCloseTo((104 * 96) / 99, 10);
    for (let i = 0; i < 5; i++) expect(s.high[i]).toBeGreaterThanOrEqual(Math.max(s.open[i], s.close[i]));
  });

  test('bar references: index or date, refused past the data', () => {
    expect(resolveBar(b, '2020-01-02T12:00:00Z', [])).toBe(2);
    expect(() => resolveBar(b, 5, ['at'])).toThrow(ScanSpecError);
    expect(() => resolveBar(b, '2021-01-01', ['at'])).toThrow(/after the last bar \(2020-01-05\)/);
  });
});

describe('runBlackSwan', () => {
  const bars = daily('2007-01-01', 1100); // 2007-01-01 .. 2010-01-05
  const settings = parseBacktestSettings({ strategy: 'sma-cross', params: { period: 10 }, quantity: 20, slippageBps: 2 });

  test('each crisis window the data reaches is reported on its own, on the whole-period equity', () => {
    const r = runBlackSwan(bars, settings, { crises: 'all' });
    expect(r.crises.map((c) => c.id)).toEqual(['gfc-2008', 'lehman-2008']);
    expect(r.notCovered).toEqual(CRISES.map((c) => c.id).filter((id) => id !== 'gfc-2008' && id !== 'lehman-2008'));
    const gfc = r.crises[0];
    const first = Math.round((Date.parse('2007-10-09') - bars.ts[0]) / DAY);
    const last = Math.round((Date.parse('2009-03-09') - bars.ts[0]) / DAY);
    expect(gfc).toMatchObject({ bars: last - first + 1, firstBar: iso(bars.ts[first]), lastBar: iso(bars.ts[last]), complete: true });
    const full = new BacktestRun(bars, settings, { keepEquity: true });
    full.runUntil(bars.length);
    expect(gfc.strategy).toEqual(measureEpisode(full.equitySeries, bars.ts, bars.length, first, last + 1, settings.initialCash));
    expect(gfc.instrument.maxDrawdown).toBeGreaterThan(0);
    expect(r.base.finalEquity).toBe(full.finish().finalEquity);
  });

  test('data that starts inside a window reports it as partial; unknown window names are refused', () => {
    const late = daily('2008-01-01', 200);
    expect(runBlackSwan(late, settings, { crises: ['gfc-2008'], shocks: [] }).crises[0]).toMatchObject({ id: 'gfc-2008', complete: false, bars: 200 });
    expect(() => runBlackSwan(late, settings, { crises: ['gfc-2009'] })).toThrow(/unknown crisis window "gfc-2009"/);
  });

  test('default shocks, and a slippage shock multiplies the configured slippage', () => {
    const r = runBlackSwan(bars, settings, { crises: [] });
    expect(r.shocks.map((s) => s.shock.kind)).toEqual(['gap', 'volatility', 'slippage']);
    const slip = r.shocks[2];
    expect(slip.slippageBps).toBe(10);
    expect(slip.finalEquity).toBe(runBacktest(bars, { ...settings, slippageBps: 10 }).finalEquity);
    expect(slip.finalEquity).toBeLessThan(slip.baseFinalEquity);
    expect(r.shocks[0].from).toBe(iso(bars.ts[550]));
  });
});
