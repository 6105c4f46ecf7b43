import { allocateBars, sliceBars, type BarColumns } from '../../../domain/bars';
import { createStrategy, type SmaCrossStrategy } from '../../../domain/strategies';
import { type ScanSpecError } from '../../../domain/scan/errors';
import { objectiveValue } from '../../../domain/scan/objective';
import { cellSettings, prepareScan } from '../../../domain/scan/prepare';
import { paramStability } from '../../../domain/scan/stability';
import { runWalkForward, walkForwardFolds } from '../../../domain/scan/walk-forward';
import { runWindow } from '../../../domain/scan/window';
import { randomWalkBars } from '../../../domain/synthetic';

const bounds = (n: number, wf: Parameters<typeof walkForwardFolds>[1]) => walkForwardFolds(n, wf).map((f) => [f.trainFrom, f.trainTo, f.testFrom, f.testTo]);
const wf = (o: Partial<Parameters<typeof walkForwardFolds>[1]>) => ({ trainBars: 40, testBars: 20, anchored: false, ...o });

describe('fold bounds', () => {
  test('rolling, step = test by default', () => {
    expect(bounds(100, wf({}))).toEqual([
      [0, 40, 40, 60],
      [20, 60, 60, 80],
      [40, 80, 80, 100],
    ]);
  });

  test('anchored: every fold trains from bar 0', () => {
    expect(bounds(100, wf({ anchored: true }))).toEqual([
      [0, 40, 40, 60],
      [0, 60, 60, 80],
      [0, 80, 80, 100],
    ]);
  });

  test('step < test overlaps test windows; step > test leaves gaps; a partial last window is dropped', () => {
    expect(bounds(100, wf({ stepBars: 15 }))).toEqual([
      [0, 40, 40, 60],
      [15, 55, 55, 75],
      [30, 70, 70, 90], // [85, 105) would run past bar 100
    ]);
    expect(bounds(100, wf({ stepBars: 30 }))).toEqual([
      [0, 40, 40, 60],
      [30, 70, 70, 90],
    ]);
    expect(bounds(95, wf({}))).toEqual([
      [0, 40, 40, 60],
      [20, 60, 60, 80], // [80, 100) is not whole in 95 bars
    ]);
    expect(bounds(100, wf({ trainBars: 80 }))).toEqual([[0, 80, 80, 100]]); // exactly one fold fits
  });

  test('a train window longer than the data, or no whole test window, is refused', () => {
    const message = (n: number, o: Partial<Parameters<typeof walkForwardFolds>[1]>) => {
      try {
        walkForwardFolds(n, wf(o));
      } catch (err) {
        return (err as ScanSpecError).message;
      }
      return 'no error';
    };
    expect(message(100, { trainBars: 101 })).toBe('walkForward.trainBars: the train window (101 bars) is longer than the data (100 bars)');
    expect(message(100, { trainBars: 90 })).toBe('walkForward.testBars: trainBars + testBars = 110 bars, but the data has 100: no whole test window fits');
  });
});

describe('parameter stability', () => {
  test('modal share, mean, stdev and cv by hand', () => {
    const s = paramStability([{ name: 'period' }, { name: 'slow' }], [
      { period: 5, slow: 30 },
      { period: 10, slow: 30 },
      { period: 5, slow: 30 },
      { period: 20, slow: 30 },
    ]);
    // period: 5 twice in 4 folds; mean (5+10+5+20)/4 = 10; variance (25+0+25+100)/4 = 37.5
    expect(s.params.period).toEqual({ values: [5, 10, 5, 20], modal: 5, modalShare: 0.5, mean: 10, stdev: Math.sqrt(37.5), cv: Math.sqrt(37.5) / 10 });
    expect(s.params.slow).toMatchObject({ modal: 30, modalShare: 1, stdev: 0, cv: 0 });
    expect(s.score).toBe(0.75);
    // a tie in counts goes to the value chosen first
    expect(paramStability([{ name: 'p' }], [{ p: 10 }, { p: 5 }, { p: 5 }, { p: 10 }]).params.p.modal).toBe(10);
  });
});

/** Daily bars (one a day, so CAGR spans are simple) from a random walk. */
function daily(n: number, seed: number): BarColumns {
  const w = randomWalkBars(n, { seed, halfRange: 0.02, stepMs: 86_400_000 });
  const b = allocateBars(n);
  for (const k of ['ts', 'open', 'high', 'low', 'close', 'volume'] as const) b[k].set(w[k].subarray(0, n));
  b.length = n;
  return b;
}

describe('walk-forward runs', () => {
  const bars = daily(700, 3);
  const request = (walkForward: Record<string, unknown>) =>
    prepareScan({ type: 'optimization', settings: { strategy: 'sma-cross', quantity: 10 }, grid: { period: [3, 5, 8, 13, 21] }, objective: 'net-profit', walkForward });

  test('each fold picks the best cell on its train window (ties to the earlier cell) and runs it, from flat, on the test window', () => {
    const scan = request({ trainBars: 200, testBars: 100 });
    const { folds, summary } = runWalkForward(bars, scan);
    expect(folds.map((f) => [f.bars.trainFrom, f.bars.testFrom, f.bars.testTo])).toEqual([
      [0, 200, 300],
      [100, 300, 400],
      [200, 400, 500],
      [300, 500, 600],
      [400, 600, 700],
    ]);
    for (const f of folds) {
      const train = scan.cells.map((cell) => {
        const r = runWindow(bars, cellSettings(scan, cell), { from: f.bars.trainFrom, to: f.bars.trainTo }).result;
        return { cell, value: objectiveValue('net-profit', r, 10_000) };
      });
      const bestValue = Math.max(...train.map((t) => t.value));
      expect(f.cell).toBe(train.find((t) => t.value === bestValue)!.cell);
      expect(f.inSample.objective).toBe(bestValue);
      const test = runWindow(bars, cellSettings(scan, f.cell), { from: f.bars.testFrom, to: f.bars.testTo });
      expect(f.outOfSample.finalEquity).toBe(test.result.finalEquity);
      expect(f.outOfSample.metrics).toEqual(test.result.metrics);
      expect(test.result.equityCurve[0].equity).toBe(10_000); // flat, with the initial cash
      for (const t of test.result.trades) expect(Date.parse(t.time)).toBeGreaterThanOrEqual(bars.ts[f.bars.testFrom]); // warm-up bars are never traded
      expect(f.testFrom).toBe(new Date(bars.ts[f.bars.testFrom]).toISOString());
      expect(f.testTo).toBe(new Date(bars.ts[f.bars.testTo - 1]).toISOString());
    }
    // stitched: the out-of-sample PnLs added up; efficiency from the folds' annualised returns
    const oosPnl = folds.reduce((a, f) => a + f.outOfSample.finalEquity - 10_000, 0);
    expect(summary.stitched.finalEquity).toBeCloseTo(10_000 + oosPnl, 9);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const is = mean(folds.map((f) => f.inSample.metrics.cagr));
    const oos = mean(folds.map((f) => f.outOfSample.metrics.cagr));
    expect(summary.inSampleAnnualisedReturn).toBe(is);
    expect(summary.efficiency).toBe(is > 0 ? oos / is : null);
    expect(summary.paramStability.params.period.values).toEqual(folds.map((f) => f.params.period));
  });

  test('warm-up: a window run signals as the full-history strategy does, trading only inside the window', () => {
    const settings = cellSettings(request({ trainBars: 200, testBars: 100 }), 1); // period 5
    const full = createStrategy('sma-cross', bars, { period: 5 }) as SmaCrossStrategy;
    /** long-only fills of a flat start at `from` that follows these crossovers */
    const expected = (cross: ArrayLike<number>, offset: number, from: number, to: number) => {
      const fills: number[] = [];
      let pos = 0;
      for (let i = from; i + 1 < to; i++) {
        const c = cross[i - offset];
        if ((c > 0 && pos === 0) || (c < 0 && pos === 1)) {
          fills.push(i + 1);
          pos = 1 - pos;
        }
      }
      return fills;
    };
    const fillBars = (trades: Array<{ time: string }>) => trades.map((t) => bars.ts.indexOf(Date.parse(t.time)));
    // default warm-up: the strategy's (6 bars for SMA(5) with the crossover rule) is read before the window
    const warm = runWindow(bars, settings, { from: 300, to: 400 }).result.trades;
    expect(fillBars(warm)).toEqual(expected(full.cross, 0, 300, 400));
    expect(fillBars(warm)[0]).toBeLessThan(306); // it could trade at once
    // warmupBars 0: the indicators start inside the window, as on a series that begins there
    const coldStrategy = createStrategy('sma-cross', sliceBars(bars, 300, 400), { period: 5 }) as SmaCrossStrategy;
    const cold = runWindow(bars, settings, { from: 300, to: 400, warmupBars: 0 }).result.trades;
    expect(fillBars(cold)).toEqual(expected(coldStrategy.cross, 300, 300, 400));
    expect(fillBars(cold)[0]).toBeGreaterThanOrEqual(306);
  });

  test('overlapping test windows (step < test) count each bar once in the stitched equity', () => {
    const scan = request({ trainBars: 200, testBars: 100, stepBars: 50 });
    const { folds, summary } = runWalkForward(bars, scan);
    expect(folds).toHaveLength(9); // test windows start at 200, 250, ..., 600
    const last = folds[folds.length - 1];
    expect(summary.stitched.equity[summary.stitched.equity.length - 1].ts).toBe(bars.ts[last.bars.testTo - 1]);
    expect(summary.stitched.equity[0].ts).toBe(bars.ts[200]);
  });
});
