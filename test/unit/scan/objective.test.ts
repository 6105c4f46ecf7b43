import type { Metrics } from '../../../domain/backtest/types';
import { objectiveValue, rank } from '../../../domain/scan/objective';

function metrics(m: Partial<Metrics>): Metrics {
  return { totalReturn: 0, cagr: 0, sharpe: 0, sortino: 0, maxDrawdown: 0, maxDrawdownBars: 0, winRate: 0, profitFactor: 0, expectancy: 0, exposure: 0, trades: 0, realizedPnl: 0, unrealizedPnl: 0, ...m };
}

describe('objectives', () => {
  test('values, by hand', () => {
    const r = { finalEquity: 10_250, metrics: metrics({ sharpe: 1.2, sortino: 1.9, cagr: 0.12, maxDrawdown: 0.08, profitFactor: 1.75 }) };
    expect(objectiveValue('net-profit', r, 10_000)).toBe(250);
    expect(objectiveValue('sharpe', r, 10_000)).toBe(1.2);
    expect(objectiveValue('sortino', r, 10_000)).toBe(1.9);
    expect(objectiveValue('calmar', r, 10_000)).toBeCloseTo(1.5, 12); // 0.12 / 0.08
    expect(objectiveValue('profit-factor', r, 10_000)).toBe(1.75);
    // no drawdown: Calmar is +Infinity for a gain, the CAGR otherwise
    expect(objectiveValue('calmar', { finalEquity: 1, metrics: metrics({ cagr: 0.05 }) }, 1)).toBe(Infinity);
    expect(objectiveValue('calmar', { finalEquity: 1, metrics: metrics({ cagr: 0 }) }, 1)).toBe(0);
  });

  test('ranking: objective descending, ties to the earlier cell, NaN last, max-drawdown breaches after all others', () => {
    const cells = [
      { cell: 7, finalEquity: 0, metrics: metrics({ sharpe: 1, maxDrawdown: 0.1 }) },
      { cell: 2, finalEquity: 0, metrics: metrics({ sharpe: 1, maxDrawdown: 0.1 }) },
      { cell: 5, finalEquity: 0, metrics: metrics({ sharpe: NaN, maxDrawdown: 0.1 }) },
      { cell: 9, finalEquity: 0, metrics: metrics({ sharpe: 3, maxDrawdown: 0.4 }) },
      { cell: 4, finalEquity: 0, metrics: metrics({ sharpe: 0.5, maxDrawdown: 0.2 }) },
    ];
    expect(rank(cells, 'sharpe', 1).map((r) => r.item.cell)).toEqual([9, 2, 7, 4, 5]);
    const capped = rank(cells, 'sharpe', 1, 0.25);
    expect(capped.map((r) => [r.item.cell, r.rank, r.eligible])).toEqual([
      [2, 1, true],
      [7, 2, true],
      [4, 3, true],
      [5, 4, true],
      [9, 5, false],
    ]);
  });
});
