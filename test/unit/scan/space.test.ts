import { parseConstraint } from '../../../domain/scan/constraints';
import { ScanSpecError } from '../../../domain/scan/errors';
import { prepareScan } from '../../../domain/scan/prepare';
import { buildAxis, decimalPlaces } from '../../../domain/scan/range';
import { buildSpace, cellParams, checkCells, enumerateCells } from '../../../domain/scan/space';

const values = (name: string, input: Parameters<typeof buildAxis>[1]) => {
  const a = buildAxis(name, input);
  return Array.from({ length: a.count }, (_, k) => a.valueAt(k));
};

/** The issues of the ScanSpecError fn throws, as "path: message" lines. */
function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScanSpecError) return err.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ScanSpecError');
}

describe('axes', () => {
  test('decimal places of the shortest round-trip form', () => {
    expect([0.25, 1e-7, 1.5e-7, 300, 0.1, 5].map(decimalPlaces)).toEqual([2, 7, 8, 0, 1, 0]);
  });

  test('ranges include `to` when whole steps reach it, and do not drift', () => {
    expect(values('p', { from: 5, to: 44, step: 1 })).toHaveLength(40);
    expect(values('p', { from: 5, to: 10, step: 2 })).toEqual([5, 7, 9]);
    // a running sum 0.1 + 0.1 + ... gives 0.30000000000000004, 0.7999999999999999, ...
    expect(values('p', { from: 0.1, to: 1, step: 0.1 })).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(values('p', { from: 1.15, to: 1.2, step: 0.01 })).toEqual([1.15, 1.16, 1.17, 1.18, 1.19, 1.2]);
    const many = values('p', { from: 0, to: 100, step: 0.01 });
    expect(many).toHaveLength(10_001);
    many.forEach((v, k) => expect(v).toBe(Number((k / 100).toFixed(2))));
  });

  test('lists keep their order; bad axes are refused', () => {
    expect(values('p', [7, 5, 6])).toEqual([7, 5, 6]);
    expect(issues(() => buildAxis('p', []))).toEqual(['grid.p: an empty list: give at least one value']);
    expect(issues(() => buildAxis('p', [5, 5]))).toEqual(['grid.p: 5 is listed twice']);
    expect(issues(() => buildAxis('p', { from: 5, to: 4, step: 1 }))).toEqual(['grid.p.to: to (4) is below from (5): an empty range']);
    expect(issues(() => buildAxis('p', { from: 5, to: 9, step: 0 }))).toEqual(['grid.p.step: step must be > 0, got 0']);
  });
});

describe('constraints', () => {
  const known = new Set(['fast', 'slow', 'period']);
  const c = (src: string) => parseConstraint(src, known, ['constraints', 0]);

  test('comparisons, chains and arithmetic', () => {
    expect(c('fast < slow').test({ fast: 5, slow: 10 })).toBe(true);
    expect(c('fast < slow').test({ fast: 10, slow: 10 })).toBe(false);
    expect(c('slow >= 2 * fast').test({ fast: 5, slow: 10 })).toBe(true);
    expect(c('slow >= 2 * fast').test({ fast: 6, slow: 10 })).toBe(false);
    expect(c('5 <= fast < slow').test({ fast: 4, slow: 10 })).toBe(false);
    expect(c('5 <= fast < slow').test({ fast: 5, slow: 10 })).toBe(true);
    expect(c('(slow - fast) / 2 == 2.5').test({ fast: 5, slow: 10 })).toBe(true);
    expect(c('-fast + 1e1 != slow').test({ fast: 0, slow: 10 })).toBe(false);
    expect(c('fast < slow').names).toEqual(['fast', 'slow']);
  });

  test('refused: unknown names, no comparison, garbage, code', () => {
    expect(issues(() => c('fats < slow'))).toEqual(['constraints.0: unknown parameter "fats" (known: fast, slow, period) in "fats < slow" (write e.g. "fast < slow" or "slow >= 2 * fast")']);
    expect(issues(() => c('fast + slow'))[0]).toMatch(/no comparison/);
    expect(issues(() => c('fast < slow;'))[0]).toMatch(/cannot read ";"/);
    expect(issues(() => c('process.exit(1) < 2'))[0]).toMatch(/unknown parameter "process"|cannot read/);
    expect(issues(() => c('fast < (slow'))[0]).toMatch(/missing "\)"/);
    expect(issues(() => c('fast <'))[0]).toMatch(/ends early/);
  });
});

describe('spaces', () => {
  const space = buildSpace({ strategy: 'sma-cross', grid: { slow: [30, 40, 50], fast: { from: 10, to: 30, step: 10 } }, constraints: ['fast < slow'] });

  test('grid order: names sorted, the last varying fastest; indexes ignore constraints', () => {
    expect(space.axes.map((a) => a.name)).toEqual(['fast', 'slow']);
    expect(space.size).toBe(9);
    expect(Array.from({ length: 9 }, (_, k) => cellParams(space, k))).toEqual([
      { fast: 10, slow: 30 },
      { fast: 10, slow: 40 },
      { fast: 10, slow: 50 },
      { fast: 20, slow: 30 },
      { fast: 20, slow: 40 },
      { fast: 20, slow: 50 },
      { fast: 30, slow: 30 },
      { fast: 30, slow: 40 },
      { fast: 30, slow: 50 },
    ]);
    expect(enumerateCells(space, 100)).toEqual([0, 1, 2, 3, 4, 5, 7, 8]); // cell 6 is fast 30 = slow 30
  });

  test('a 10-million-cell grid is refused from its size alone, before anything is enumerated', () => {
    const big = buildSpace({ strategy: 'sma-cross', grid: { fast: { from: 1, to: 10_000, step: 1 }, slow: { from: 1, to: 1000, step: 1 } } });
    expect(issues(() => enumerateCells(big, 100_000))).toEqual([
      'grid: the grid has 10,000,000 cells (10000 fast x 1000 slow); the limit is 100,000 (narrow the ranges, coarsen the steps, or use random search with --samples)',
    ]);
    // 10^14 cells: enumerating them would not end, so an answer proves nothing was enumerated
    const huge = buildSpace({ strategy: 'sma-cross', grid: { fast: { from: 1, to: 100_000, step: 1 }, slow: { from: 0.001, to: 100, step: 0.001 }, period: { from: 1, to: 10_000, step: 1 } } });
    expect(issues(() => enumerateCells(huge, 100_000))[0]).toMatch(/^grid: the grid has 100,000,000,000,000 cells \(100000 fast x 10000 period x 100000 slow\)/);
  });

  test('unknown parameters, cells the strategy refuses, constraints that leave nothing', () => {
    expect(issues(() => buildSpace({ strategy: 'sma-cross', grid: { perod: [5] }, base: { slwo: 3 } }))).toEqual([
      'grid.perod: unknown parameter "perod" for strategy sma-cross; expected one of: period, fast, slow',
      'settings.params.slwo: unknown parameter "slwo" for strategy sma-cross; expected one of: period, fast, slow',
    ]);
    const unconstrained = buildSpace({ strategy: 'sma-cross', grid: { fast: [10, 30], slow: [30] } });
    expect(issues(() => checkCells(unconstrained, enumerateCells(unconstrained, 10)))).toEqual([
      'grid: cell 1 {"fast":30,"slow":30}: fast (30) must be smaller than slow (30); add a constraint (for example "fast < slow") to leave such cells out',
    ]);
    const none = buildSpace({ strategy: 'sma-cross', grid: { fast: [40], slow: [30] }, constraints: ['fast < slow'] });
    expect(issues(() => enumerateCells(none, 10))).toEqual(['constraints: the constraints leave no cell of the 1 in the grid']);
  });

  test('prepareScan: params version ignores key order, follows the grid; type rules', () => {
    const a = prepareScan({ settings: { strategy: 'sma-cross' }, grid: { fast: [5, 10], slow: [30, 40] } });
    const b = prepareScan({ grid: { slow: [30, 40], fast: [5, 10] }, settings: { strategy: 'sma-cross' } });
    const c = prepareScan({ settings: { strategy: 'sma-cross' }, grid: { fast: [5, 10], slow: [30, 41] } });
    expect(a.paramsVersion).toMatch(/^p1-[0-9a-f]{16}$/);
    expect(b.paramsVersion).toBe(a.paramsVersion);
    expect(c.paramsVersion).not.toBe(a.paramsVersion);
    expect(a.cells).toEqual([0, 1, 2, 3]);
    expect(issues(() => prepareScan({ settings: { strategy: 'sma-cross' } }))).toEqual([
      'grid: param_scan needs a grid, e.g. {"period":[5,6,7]} or {"period":{"from":5,"to":44,"step":1}}',
    ]);
    expect(issues(() => prepareScan({ type: 'monte_carlo', settings: { strategy: 'sma-cross' }, grid: { period: [5] } }))[0]).toMatch(/runs settings.params/);
    expect(issues(() => prepareScan({ settings: { strategy: 'sma-cross' }, grid: { period: [5] }, walkForward: { trainBars: 10, testBars: 5 } }))[0]).toMatch(/part of type optimization/);
    expect(issues(() => prepareScan({ settings: { strategy: 'sma-cross' }, grid: { period: 'x' } }))[0]).toMatch(/^grid.period: /);
  });
});
