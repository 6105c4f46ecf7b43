/**
 * Monte Carlo microbenchmark (issue 12): 10,000 paths of 1,000 trades through domain/scan's tradePaths and
 * summarizePaths (what a monte_carlo scan runs), against
 *  - kernel: the same trade-order shuffle / bootstrap written as one plain loop here (same PRNG, same arrays,
 *    same results, checked), the goal's baseline: the library may cost at most 25 % more than it;
 *  - pass: a loop over the same arrays in order, with no PRNG and no shuffle (what walking 10M trades costs at
 *    all), reported for scale.
 * Interleaved, warmed up, medians of the repetitions, in process CPU time (wall-time ratio beside it).
 */
import { summarizePaths, tradePaths, type PathStats } from '../domain/scan/monte-carlo';
import { mulberry32 } from '../domain/synthetic';

/** The kernel: both methods as plain loops, written out here (same PRNG steps, so the same paths as the library). */
function kernel(pnl: Float64Array, cash: number, shuffle: boolean, paths: number, seed: number, fr: Float64Array, md: Float64Array): void {
  const t = pnl.length;
  const work = new Float64Array(pnl);
  let a = seed | 0;
  if (shuffle) {
    for (let p = 0; p < paths; p++) {
      let eq = cash;
      let peak = cash;
      let dd = 0;
      for (let i = t - 1; i >= 0; i--) {
        a = (a + 0x6d2b79f5) | 0;
        let z = Math.imul(a ^ (a >>> 15), 1 | a);
        z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
        const j = Math.floor((((z ^ (z >>> 14)) >>> 0) / 4294967296) * (i + 1));
        const x = work[j];
        work[j] = work[i];
        work[i] = x;
        eq += x;
        if (eq > peak) peak = eq;
        else if (peak - eq > dd * peak) dd = (peak - eq) / peak;
      }
      fr[p] = eq / cash - 1;
      md[p] = dd;
    }
    return;
  }
  for (let p = 0; p < paths; p++) {
    let eq = cash;
    let peak = cash;
    let dd = 0;
    for (let i = 0; i < t; i++) {
      a = (a + 0x6d2b79f5) | 0;
      let z = Math.imul(a ^ (a >>> 15), 1 | a);
      z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
      eq += pnl[Math.floor((((z ^ (z >>> 14)) >>> 0) / 4294967296) * t)];
      if (eq > peak) peak = eq;
      else if (peak - eq > dd * peak) dd = (peak - eq) / peak;
    }
    fr[p] = eq / cash - 1;
    md[p] = dd;
  }
}

function pass(pnl: Float64Array, cash: number, paths: number, fr: Float64Array, md: Float64Array): void {
  const t = pnl.length;
  for (let p = 0; p < paths; p++) {
    let eq = cash;
    let peak = cash;
    let dd = 0;
    for (let i = 0; i < t; i++) {
      eq += pnl[i];
      if (eq > peak) peak = eq;
      else if (peak - eq > dd * peak) dd = (peak - eq) / peak;
    }
    fr[p] = eq / cash - 1;
    md[p] = dd + p * 0; // one store per path, as the others
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

export async function benchMonteCarlo(opts: { paths?: number; trades?: number; repetitions?: number } = {}): Promise<Record<string, unknown>> {
  const paths = opts.paths ?? 10_000;
  const trades = opts.trades ?? 1000;
  const reps = Math.max(5, opts.repetitions ?? 9);
  const rnd = mulberry32(42);
  const pnl = Float64Array.from({ length: trades }, () => (rnd() - 0.48) * 200);
  const cash = 100_000;
  const fr = new Float64Array(paths);
  const md = new Float64Array(paths);
  const out: PathStats = { finalReturn: new Float64Array(paths), maxDrawdown: new Float64Array(paths) };
  const methods: Record<string, unknown> = {};
  let sink = 0;
  let passed = true;
  for (const method of ['shuffle', 'bootstrap'] as const) {
    const shuffle = method === 'shuffle';
    const lib = () => {
      tradePaths(pnl, cash, method, paths, 7, out);
      sink += summarizePaths(out, 0.1).probLossAbove;
    };
    const base = () => kernel(pnl, cash, shuffle, paths, 7, fr, md);
    const floor = () => pass(pnl, cash, paths, fr, md);
    for (let w = 0; w < 3; w++) {
      lib();
      base();
      floor();
    }
    base();
    lib();
    for (let p = 0; p < paths; p++) {
      if (fr[p] !== out.finalReturn[p] || md[p] !== out.maxDrawdown[p]) throw new Error(`${method}: library and kernel disagree at path ${p}`);
    }
    // process CPU time per repetition (other processes on a busy machine do not move it); wall time beside it
    const cpu: Record<'library' | 'kernel' | 'pass', number[]> = { library: [], kernel: [], pass: [] };
    const wall: Record<'library' | 'kernel' | 'pass', number[]> = { library: [], kernel: [], pass: [] };
    const order = [['library', lib], ['kernel', base], ['pass', floor]] as const;
    for (let r = 0; r < reps; r++) {
      for (let k = 0; k < 3; k++) {
        const [name, fn] = order[(k + r) % 3];
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        fn();
        wall[name].push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu[name].push((c.user + c.system) / 1000);
      }
    }
    const rate = (xs: number[]) => Math.round(paths / (median(xs) / 1000));
    const ratio = rate(cpu.library) / rate(cpu.kernel);
    const round = (x: number) => +x.toFixed(3);
    methods[method] = {
      libraryPathsPerSec: rate(cpu.library),
      kernelPathsPerSec: rate(cpu.kernel),
      passPathsPerSec: rate(cpu.pass),
      ratio: round(ratio),
      ratioWall: round(rate(wall.library) / rate(wall.kernel)),
      ratioToPass: round(rate(cpu.library) / rate(cpu.pass)),
      tradeStepsPerSec: Math.round(rate(cpu.library) * trades),
      cpuMs: { library: cpu.library.map(round), kernel: cpu.kernel.map(round), pass: cpu.pass.map(round) },
    };
    if (ratio < 0.8) passed = false;
  }
  if (Number.isNaN(sink)) throw new Error('no result');
  return {
    paths,
    trades,
    repetitions: reps,
    goal: 'library >= 0.8 x the plain kernel (paths per second), each method',
    passed,
    ...methods,
    workload: 'mulberry32(42) trade PnLs, 100k initial cash; library = tradePaths + summarizePaths (quantiles, probabilities); kernel = the same paths in one hand-written loop; pass = the same arrays walked in order without randomness',
  };
}
