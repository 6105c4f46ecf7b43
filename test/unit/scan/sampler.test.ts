import { selectCells } from '../../../domain/scan/sampler';
import { buildSpace, mergedParams, passesConstraints } from '../../../domain/scan/space';

describe('samplers', () => {
  const space = buildSpace({ strategy: 'sma-cross', grid: { fast: { from: 2, to: 50, step: 1 }, slow: { from: 10, to: 200, step: 1 } }, constraints: ['fast < slow'] });

  test('grid: every cell that passes the constraints, ascending', () => {
    const cells = selectCells(space, { kind: 'grid' }, 100_000);
    // fast 2..50 (49 values) x slow 10..200 (191): the pairs with fast >= slow are fast 10..50 against slow 10..fast
    const refused = Array.from({ length: 41 }, (_, k) => k + 1).reduce((a, b) => a + b, 0);
    expect(cells).toHaveLength(49 * 191 - refused);
    expect(cells).toEqual([...cells].sort((a, b) => a - b));
  });

  test('random: same seed same cells, distinct, all valid; another seed other cells', () => {
    const a = selectCells(space, { kind: 'random', samples: 200, seed: 42 }, 100_000);
    const b = selectCells(space, { kind: 'random', samples: 200, seed: 42 }, 100_000);
    const c = selectCells(space, { kind: 'random', samples: 200, seed: 43 }, 100_000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBe(200);
    for (const k of a) expect(passesConstraints(space, mergedParams(space, k))).toBe(true);
    expect(selectCells(space, { kind: 'random', samples: 1e6, seed: 1 }, 1e7)).toEqual(selectCells(space, { kind: 'grid' }, 1e7));
  });

  test('random over a space too large to enumerate: by rejection, still deterministic and roughly uniform', () => {
    const huge = buildSpace({ strategy: 'sma-cross', grid: { fast: { from: 1, to: 9999, step: 1 }, slow: { from: 1, to: 10_000, step: 1 } }, constraints: ['fast < slow'] });
    expect(huge.size).toBe(99_990_000);
    const a = selectCells(huge, { kind: 'random', samples: 4000, seed: 7 }, 100_000);
    expect(a).toEqual(selectCells(huge, { kind: 'random', samples: 4000, seed: 7 }, 100_000));
    expect(new Set(a).size).toBe(4000);
    // fast < 5000 holds for 3/4 of the valid cells (the triangle below the diagonal): expect ~3000 of 4000
    const low = a.filter((k) => mergedParams(huge, k).fast < 5000).length;
    expect(low).toBeGreaterThan(2850);
    expect(low).toBeLessThan(3150);
  });
});
