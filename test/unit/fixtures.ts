import { allocateBars, appendBar, type BarColumns } from '../../domain/bars';
import type { BacktestSettings, Trade } from '../../domain/backtest/types';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import type { Strategy } from '../../domain/strategies/types';

export const DAY = 86_400_000;
export const T0 = Date.UTC(2024, 0, 1);

/** Bars from [open, high, low, close] rows (or a single price for a flat bar), one per day from 2024-01-01. */
export function bars(rows: Array<number | [number, number, number, number]>, volume = 100): BarColumns {
  const b = allocateBars(rows.length);
  rows.forEach((row, i) => {
    const [open, high, low, close] = typeof row === 'number' ? [row, row, row, row] : row;
    appendBar(b, { ts: T0 + i * DAY, open, high, low, close, volume });
  });
  return b;
}

/** A strategy that wants the given position sign after the close of the given bars (NaN elsewhere). */
export function scripted(targets: Record<number, number>, opts: { warmup?: number; stop?: (i: number, side: number, entry: number) => number } = {}) {
  const calls: Array<{ i: number; position: number }> = [];
  const strategy: Strategy & { calls: typeof calls } = {
    warmup: opts.warmup ?? 0,
    calls,
    target(i: number, position: number): number {
      calls.push({ i, position });
      return i in targets ? targets[i] : NaN;
    },
    indicators: () => ({}),
  };
  if (opts.stop) strategy.stopPrice = opts.stop;
  return strategy;
}

/** Settings with defaults, pinned to one share per entry unless `overrides` size otherwise (the tests' figures assume it). */
export function settings(overrides: Partial<BacktestSettings> & Record<string, unknown> = {}): BacktestSettings {
  const sized = 'sizing' in overrides || 'quantity' in overrides ? {} : { quantity: 1 };
  return parseBacktestSettings({ strategy: 'sma-cross', ...sized, ...overrides });
}

/** bar index of each trade, from its ISO time */
export function tradeBars(b: BarColumns, trades: Trade[]): number[] {
  const index = new Map<number, number>();
  for (let i = 0; i < b.length; i++) index.set(b.ts[i], i);
  return trades.map((t) => {
    const i = index.get(Date.parse(t.time));
    if (i === undefined) throw new Error(`trade time ${t.time} is no bar's time`);
    return i;
  });
}
