import { allocateBars, sliceBars } from '../../../domain/bars';
import { batchAt, batchLabel } from '../../../domain/scan/batches';
import { runBlackSwan } from '../../../domain/scan/black-swan';
import { barPath, barPaths, blockBootstrapBars, drawsPerPath } from '../../../domain/scan/bootstrap';
import { compareScores, rank } from '../../../domain/scan/objective';
import { MAX_RUNS_PER_BATCH, planScan, runsPerBatch, TARGET_BAR_EVALS } from '../../../domain/scan/plan';
import { prepareScan } from '../../../domain/scan/prepare';
import { runCells } from '../../../domain/scan/runner';
import { scanSteps } from '../../../domain/scan/scan';
import { stageRuns } from '../../../domain/scan/stage-runs';
import { runWindow } from '../../../domain/scan/window';
import { mulberry32, mulberry32At, randomWalkBars } from '../../../domain/synthetic';

const bars = randomWalkBars(2_000, { stepMs: 86_400_000 });
const settings = { strategy: 'sma-cross', commissionRate: 0.0005 };

describe('batches', () => {
  const scan = prepareScan({ type: 'optimization', settings, grid: { period: { from: 5, to: 34, step: 1 } }, walkForward: { trainBars: 400, testBars: 200 } });

  test('batch sizes follow the bars a run reads: a few seconds of one core, at most 1,000 runs', () => {
    expect(runsPerBatch(5_036)).toBe(MAX_RUNS_PER_BATCH);
    expect(runsPerBatch(100_000)).toBe(240);
    expect(runsPerBatch(500_000)).toBe(48);
    expect(runsPerBatch(1e9)).toBe(1);
    expect(runsPerBatch(100_000) * 100_000).toBeLessThanOrEqual(TARGET_BAR_EVALS);
  });

  test('a plan counts the runs the in-process scan counts; train runs are sized by their window', () => {
    const plan = planScan(scan, 50_000);
    const folds = Math.floor((50_000 - 600) / 200) + 1;
    expect(plan.stages).toEqual([
      { stage: 'cells', runs: 30, batchRuns: 480 },
      { stage: 'train', runs: folds * 30, batchRuns: 1_000 },
    ]);
    expect(plan).toMatchObject({ bars: 50_000, finishRuns: folds, runsTotal: scanSteps(scan, 50_000), batches: 1 + Math.ceil((folds * 30) / 1_000) });
    const anchored = prepareScan({ ...scan.spec, walkForward: { trainBars: 400, testBars: 200, anchored: true } });
    expect(planScan(anchored, 50_000).stages[1].batchRuns).toBe(480);
    expect(() => planScan(scan, 500)).toThrow(/trainBars \+ testBars = 600 bars, but the data has 500/);
  });

  test('Monte Carlo plans its block-bootstrap paths, black swan its shocks (the defaults included)', () => {
    const mc = planScan(prepareScan({ type: 'monte_carlo', settings, monteCarlo: { paths: 5_000 } }), 2_000);
    expect(mc).toMatchObject({ stages: [{ stage: 'paths', runs: 5_000, batchRuns: 1_000 }], finishRuns: 1, runsTotal: 5_001, batches: 5 });
    expect(planScan(prepareScan({ type: 'monte_carlo', settings, monteCarlo: { methods: ['shuffle'] } }), 2_000)).toMatchObject({ stages: [], runsTotal: 1, batches: 0 });
    expect(planScan(prepareScan({ type: 'black_swan', settings }), 2_000).stages).toEqual([{ stage: 'shocks', runs: 2, batchRuns: 1_000 }]);
    expect(planScan(prepareScan({ type: 'black_swan', settings: { ...settings, slippageBps: 2 } }), 2_000).stages[0].runs).toBe(3);
  });

  test('batchAt walks every run of every stage once, in order, and labels each batch', () => {
    const plan = { bars: 1, finishRuns: 0, runsTotal: 0, batches: 5, stages: [{ stage: 'cells' as const, runs: 250, batchRuns: 100 }, { stage: 'train' as const, runs: 120, batchRuns: 60 }] };
    const all = Array.from({ length: 6 }, (_, k) => batchAt(plan, k));
    expect(all.map((b) => b && [b.stage, b.from, b.to])).toEqual([['cells', 0, 100], ['cells', 100, 200], ['cells', 200, 250], ['train', 0, 60], ['train', 60, 120], undefined]);
    expect(batchLabel(all[2]!)).toBe('cells 200–249');
    expect(batchLabel(all[4]!)).toBe('train runs 60–119');
  });
});

describe('runs computed one by one equal the in-process scan', () => {
  test('mulberry32At(seed, k) is the stream after k draws', () => {
    for (const [seed, k] of [[7, 0], [7, 1], [123, 999], [2 ** 32 - 1, 12_345]] as const) {
      const a = mulberry32(seed);
      for (let i = 0; i < k; i++) a();
      const b = mulberry32At(seed, k);
      expect([b(), b(), b()]).toEqual([a(), a(), a()]);
    }
    // the state is 32 bits: 2^32 draws bring it back, and skips past 2^32 (paths x draws of a long series) wrap alike
    expect(mulberry32At(5, 2 ** 32 + 10)()).toBe(mulberry32At(5, 10)());
    expect(mulberry32At(5, 3 * 2 ** 40 + 7)()).toBe(mulberry32At(5, 7)());
  });

  test('a block-bootstrap path computed alone is the path of the whole run', () => {
    const base = prepareScan({ type: 'monte_carlo', settings: { ...settings, params: { fast: 5, slow: 20 } } }).base;
    const reference = (paths: number, seed: number) => {
      // the stream drawn path after path, as barPaths did before paths could be computed alone
      const rnd = mulberry32(seed);
      const path = allocateBars(bars.length);
      return Array.from({ length: paths }, () => {
        blockBootstrapBars(bars, 15, rnd, path);
        const m = runWindow(path, base).result.metrics;
        return [m.totalReturn, m.maxDrawdown];
      });
    };
    const want = reference(12, 9);
    const all = barPaths(bars, base, 15, 12, 9);
    expect(Array.from(all.finalReturn)).toEqual(want.map((w) => w[0]));
    const scratch = allocateBars(bars.length);
    for (const p of [11, 3, 0, 7]) expect(barPath(bars, base, 15, 9, p, scratch)).toEqual({ finalReturn: want[p][0], maxDrawdown: want[p][1] });
    expect(drawsPerPath(2_000, 15)).toBe(Math.ceil(1_999 / 15));
    expect(drawsPerPath(1, 15)).toBe(0);
  });

  test('stage runs in any order and subset equal the runs of the whole scan', () => {
    const grid = prepareScan({ settings, grid: { fast: [5, 10], slow: [20, 40, 60] }, objective: 'sharpe' });
    const cells = [...stageRuns(bars, grid, 'cells', [4, 1])];
    const whole = runCells(bars, grid, grid.cells);
    expect(cells.map((r) => r.stage === 'cells' && r.cell.finalEquity)).toEqual([whole[4].finalEquity, whole[1].finalEquity]);

    const wf = prepareScan({ type: 'optimization', settings, grid: { period: [5, 9, 14] }, walkForward: { trainBars: 400, testBars: 300, warmupBars: 10 } });
    const [train] = [...stageRuns(bars, wf, 'train', [7])];
    // run 7 = fold 2 (7 / 3 cells), the cell at 1: trained on bars [600, 1000) with 10 warm-up bars
    expect(train).toMatchObject({ stage: 'train', run: 7, fold: 2 });
    const want = runWindow(bars, { ...wf.base, params: { period: 9 } }, { from: 600, to: 1_000, warmupBars: 10 }).result;
    expect(train.stage === 'train' && train.cell.finalEquity).toBe(want.finalEquity);

    const bsScan = prepareScan({ type: 'black_swan', settings: { ...settings, slippageBps: 3 } });
    const shocks = [...stageRuns(bars, bsScan, 'shocks', [2, 0, 1])].map((r) => (r.stage === 'shocks' ? r.shock : undefined));
    const report = runBlackSwan(bars, bsScan.base, bsScan.spec.blackSwan);
    expect(shocks.map((s) => s && { ...s, baseFinalEquity: report.base.finalEquity })).toEqual([report.shocks[2], report.shocks[0], report.shocks[1]]);
  });

  test('the ranking order, as the stored scan ranks in SQL: eligible, NaN last, higher first, earlier cell', () => {
    const items = [
      { cell: 3, objective: 1, eligible: true },
      { cell: 1, objective: NaN, eligible: true },
      { cell: 2, objective: 5, eligible: false },
      { cell: 4, objective: Infinity, eligible: true },
      { cell: 0, objective: 1, eligible: true },
      { cell: 5, objective: -Infinity, eligible: true },
    ];
    expect([...items].sort(compareScores).map((i) => i.cell)).toEqual([4, 0, 3, 5, 1, 2]);
    const metrics = (maxDrawdown: number) => ({ ...runWindow(sliceBars(bars, 0, 0), prepareScan({ settings, grid: { period: [5] } }).base).result.metrics, maxDrawdown });
    const ranked = rank([{ cell: 1, finalEquity: 11, metrics: metrics(0.5) }, { cell: 0, finalEquity: 10, metrics: metrics(0.1) }], 'net-profit', 10, 0.2);
    expect(ranked.map((r) => [r.item.cell, r.eligible])).toEqual([[0, true], [1, false]]);
  });
});
