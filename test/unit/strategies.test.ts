import { crossovers } from '../../domain/crossover';
import { sma } from '../../domain/indicators';
import { createStrategy, STRATEGIES, type DonchianBreakoutStrategy, type RsiReversionStrategy, type SmaCrossStrategy } from '../../domain/strategies';
import { randomWalkBars } from '../../domain/synthetic';
import { bars } from './fixtures';

describe('sma-cross', () => {
  const walk = randomWalkBars(3000, { seed: 5 });

  test('crosses are those of SMA(fast) - SMA(slow) under the crossover rule', () => {
    const s = createStrategy('sma-cross', walk, { fast: 5, slow: 20 }) as SmaCrossStrategy;
    const n = walk.length;
    const f = sma(walk.close, 5, new Float64Array(n));
    const sl = sma(walk.close, 20, new Float64Array(n));
    const diff = Float64Array.from(f, (x, i) => x - sl[i]);
    const expected = crossovers(diff, new Int8Array(n));
    expect(Array.from(s.cross)).toEqual(Array.from(expected));
    expect(expected.filter((c) => c !== 0).length).toBeGreaterThan(50);
    expect(s.warmup).toBe(21);
  });

  test('no cross while the difference has only been 0 before', () => {
    const flatThenUp = createStrategy('sma-cross', bars([5, 5, 5, 5, 6, 7, 8, 9]), { period: 3 }) as SmaCrossStrategy;
    expect(Array.from(flatThenUp.cross)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const dipThenUp = createStrategy('sma-cross', bars([5, 5, 5, 5, 4, 7, 8, 9]), { period: 3 }) as SmaCrossStrategy;
    expect(Array.from(dipThenUp.cross)).toEqual([0, 0, 0, 0, 0, 1, 0, 0]);
  });

  test('{ period } crosses the close over its SMA', () => {
    const s = createStrategy('sma-cross', walk, { period: 10 }) as SmaCrossStrategy;
    const n = walk.length;
    const avg = sma(walk.close, 10, new Float64Array(n));
    const diff = Float64Array.from(walk.close.subarray(0, n), (c, i) => c - avg[i]);
    expect(Array.from(s.cross)).toEqual(Array.from(crossovers(diff, new Int8Array(n))));
    expect(Object.keys(s.indicators(50))).toEqual(['close', 'sma', 'cross']);
  });

  test('targets: up-cross long; down-cross flat (long-only) or short (allowShort); else no change', () => {
    // closes: slow SMA(3) vs fast SMA(1) = the close (period form): up at bar 4, down at bar 7
    const b = bars([10, 10, 10, 9, 12, 12, 12, 8, 8]);
    const longOnly = createStrategy('sma-cross', b, { period: 3 }) as SmaCrossStrategy;
    expect(Array.from(longOnly.cross)).toEqual([0, 0, 0, 0, 1, 0, 0, -1, 0]);
    expect(longOnly.target(4, 0)).toBe(1);
    expect(longOnly.target(7, 1)).toBe(0);
    expect(longOnly.target(5, 1)).toBeNaN();
    const both = createStrategy('sma-cross', b, { period: 3 }, { allowShort: true });
    expect(both.target(7, 1)).toBe(-1);
    expect(both.target(4, -1)).toBe(1);
    const ind = longOnly.indicators(4);
    expect(ind.close).toBe(12);
    expect(ind.sma).toBeCloseTo((10 + 9 + 12) / 3, 12);
  });
});

describe('rsi-reversion', () => {
  const b = randomWalkBars(200, { seed: 2 });
  const s = createStrategy('rsi-reversion', b, {}) as RsiReversionStrategy;
  const at = (value: number) => {
    s.rsi[100] = value;
    return (position: number) => s.target(100, position);
  };

  test('flat: long below oversold, short above overbought only with allowShort', () => {
    expect(at(25)(0)).toBe(1);
    expect(at(75)(0)).toBeNaN();
    expect(at(50)(0)).toBeNaN();
    const shorts = createStrategy('rsi-reversion', b, {}, { allowShort: true }) as RsiReversionStrategy;
    shorts.rsi[100] = 75;
    expect(shorts.target(100, 0)).toBe(-1);
    expect(shorts.target(100, 1)).toBe(-1); // long and overbought: reverse
    shorts.rsi[100] = 40;
    expect(shorts.target(100, -1)).toBe(0); // short and below exit: cover
    shorts.rsi[100] = 20;
    expect(shorts.target(100, -1)).toBe(1);
  });

  test('long: exit above the exit level', () => {
    expect(at(55)(1)).toBe(0);
    expect(at(45)(1)).toBeNaN();
    expect(at(75)(1)).toBe(0); // no shorts: just flat
  });

  test('warm-up is NaN (no signal)', () => {
    expect(s.target(5, 0)).toBeNaN();
    expect(s.warmup).toBe(15);
  });
});

describe('donchian-breakout', () => {
  // highs/lows of a range 9..11, then a breakout at bar 6 and a breakdown at bar 10
  const rows: Array<[number, number, number, number]> = [
    [10, 11, 9, 10],
    [10, 11, 9, 10],
    [10, 11, 9, 10],
    [10, 11, 9, 10],
    [10, 11, 9, 10],
    [10, 11, 9, 10],
    [10, 12.5, 10, 12],
    [12, 13, 11.5, 12.5],
    [12.5, 13, 12, 12.8],
    [12.8, 13, 12.5, 12.6],
    [12.6, 12.6, 10, 10.5],
  ];
  const b = bars(rows);

  test('enters above the previous entry-bar high, exits below the previous exit-bar low', () => {
    const s = createStrategy('donchian-breakout', b, { entry: 5, exit: 3, atrPeriod: 3, atrStop: 2 }) as DonchianBreakoutStrategy;
    expect(s.upperEntry[6]).toBe(11);
    expect(s.target(6, 0)).toBe(1);
    expect(s.target(5, 0)).toBeNaN();
    expect(s.lowerExit[10]).toBe(11.5);
    expect(s.target(10, 1)).toBe(0);
    expect(s.target(9, 1)).toBeNaN();
  });

  test('the ATR stop is entry - atrStop * ATR of the given bar; 0 disables it', () => {
    const s = createStrategy('donchian-breakout', b, { entry: 5, exit: 3, atrPeriod: 3, atrStop: 2 }) as DonchianBreakoutStrategy;
    expect(s.atr[6]).toBeGreaterThan(0);
    expect(s.stopPrice(6, 1, 12)).toBeCloseTo(12 - 2 * s.atr[6], 12);
    expect(s.stopPrice(6, -1, 12)).toBeCloseTo(12 + 2 * s.atr[6], 12);
    expect(s.stopPrice(1, 1, 12)).toBeNaN(); // ATR still warming up
    const off = createStrategy('donchian-breakout', b, { entry: 5, exit: 3, atrStop: 0 }) as DonchianBreakoutStrategy;
    expect(off.stopPrice(6, 1, 12)).toBeNaN();
  });

  test('shorts mirror it only with allowShort', () => {
    const down = bars([...rows.slice(0, 6), [10, 10, 8, 8.5]]);
    expect(createStrategy('donchian-breakout', down, { entry: 5, exit: 3 }).target(6, 0)).toBeNaN();
    expect(createStrategy('donchian-breakout', down, { entry: 5, exit: 3 }, { allowShort: true }).target(6, 0)).toBe(-1);
  });
});

test('registry', () => {
  expect(Object.keys(STRATEGIES).sort()).toEqual(['donchian-breakout', 'rsi-reversion', 'sma-cross']);
  expect(() => createStrategy('nope' as never, bars([1]), {})).toThrow(/unknown strategy/);
  expect(() => createStrategy('sma-cross', bars([1]), { fast: 50, slow: 20 })).toThrow(/smaller than slow/);
});

test('live use: a strategy built on a window gives the same target as on the full history', () => {
  const full = randomWalkBars(2000, { seed: 9 });
  const s = createStrategy('sma-cross', full, { fast: 10, slow: 30 }) as SmaCrossStrategy;
  const i = Array.from(s.cross).findIndex((c, k) => k > 1500 && c !== 0);
  expect(i).toBeGreaterThan(0);
  // a window ending at bar i that starts far enough back to hold the previous non-zero difference
  const from = i - 200;
  const window = {
    length: i + 1 - from,
    ts: full.ts.subarray(from, i + 1),
    open: full.open.subarray(from, i + 1),
    high: full.high.subarray(from, i + 1),
    low: full.low.subarray(from, i + 1),
    close: full.close.subarray(from, i + 1),
    volume: full.volume.subarray(from, i + 1),
  };
  const live = createStrategy('sma-cross', window, { fast: 10, slow: 30 });
  expect(live.target(window.length - 1, 0)).toBe(s.target(i, 0));
});
