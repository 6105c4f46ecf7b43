import { readFileSync } from 'node:fs';
import { runBacktest } from '../../../domain/backtest/engine';
import { sliceBars } from '../../../domain/bars';
import { parseOhlcvCsv } from '../../../domain/csv';
import { cellSettings, prepareScan } from '../../../domain/scan/prepare';
import { runCells } from '../../../domain/scan/runner';
import { runScan } from '../../../domain/scan/scan';
import { SHARED_DATA } from '../../helpers/stack';

const orcl = parseOhlcvCsv(readFileSync(`${SHARED_DATA}/orcl-1995-2014.txt`, 'utf8')).bars;
const settings = { strategy: 'sma-cross', quantity: 50, commissionRate: 0.0005 };

describe('runScan', () => {
  const scan = prepareScan({ settings, grid: { fast: [5, 10, 20], slow: [30, 60] }, constraints: ['fast < slow'], objective: 'sharpe' });
  const result = runScan(orcl, scan);

  test('every cell is the backtest of its parameters, ranked by the objective', () => {
    expect(result.cells).toHaveLength(6);
    for (const c of result.cells) {
      const r = runBacktest(orcl, cellSettings(scan, c.cell));
      expect(c).toMatchObject({ finalEquity: r.finalEquity, cash: r.cash, position: r.position, trades: r.trades.length, metrics: r.metrics, objective: r.metrics.sharpe, eligible: true });
    }
    expect(result.cells.map((c) => c.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    for (let k = 1; k < 6; k++) expect(result.cells[k - 1].objective).toBeGreaterThanOrEqual(result.cells[k].objective);
  });

  test('results state their assumptions, seed and params version', () => {
    expect(result.assumptions).toMatchObject({
      strategy: 'sma-cross',
      sizing: { mode: 'fixed-quantity', quantity: 50 },
      commissionRate: 0.0005,
      fillRule: 'next-open',
      params: {},
      formatVersion: 1,
      paramsVersion: scan.paramsVersion,
      seed: null,
      scan: { type: 'param_scan', objective: 'sharpe', constraints: ['fast < slow'], sampler: { kind: 'grid' } },
    });
    const random = runScan(orcl, prepareScan({ type: 'optimization', settings, grid: { period: { from: 5, to: 60, step: 1 } }, sampler: { kind: 'random', samples: 5, seed: 9 } }));
    expect(random.assumptions.seed).toBe(9);
    expect(random.cells).toHaveLength(5);
  });

  test('batches: a cell does not depend on which batch it ran in', () => {
    const all = runCells(orcl, scan, scan.cells);
    const split = [...runCells(orcl, scan, scan.cells.slice(3)), ...runCells(orcl, scan, scan.cells.slice(0, 3))];
    expect(split.sort((a, b) => a.cell - b.cell)).toEqual(all);
    const seen: Array<[number, number]> = [];
    runCells(orcl, scan, scan.cells, (done, total) => seen.push([done, total]));
    expect(seen).toEqual(scan.cells.map((_, k) => [k + 1, 6]));
  });

  test('monte_carlo: deterministic by seed, on the base run\'s round trips', () => {
    const mc = (seed: number) => runScan(sliceBars(orcl, 0, 1500), prepareScan({ type: 'monte_carlo', settings: { ...settings, params: { fast: 10, slow: 30 } }, monteCarlo: { paths: 200, seed } }));
    const a = mc(4);
    expect(mc(4)).toEqual(a);
    expect(mc(5).monteCarlo).not.toEqual(a.monteCarlo);
    expect(a.monteCarlo!.roundTrips).toBe(a.cells[0].metrics.trades);
    expect(a.assumptions).toMatchObject({ seed: 4, params: { fast: 10, slow: 30 } });
    expect(Object.keys(a.monteCarlo!)).toEqual(['roundTrips', 'shuffle', 'bootstrap', 'blockBootstrap']);
  });

  test('black_swan on ORCL 1995-2014: the crisis windows its dates cover', () => {
    const r = runScan(orcl, prepareScan({ type: 'black_swan', settings: { ...settings, params: { period: 20 } } }));
    expect(r.blackSwan!.crises.map((c) => c.id)).toEqual(['asian-crisis-1997', 'ltcm-1998', 'dot-com-crash', 'sept-11', 'gfc-2008', 'lehman-2008', 'flash-crash-2010', 'us-downgrade-2011']);
    expect(r.blackSwan!.crises.every((c) => c.complete)).toBe(true);
    expect(r.blackSwan!.shocks).toHaveLength(2); // no slippage configured: no slippage shock by default
  });
});
