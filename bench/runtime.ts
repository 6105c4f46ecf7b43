/**
 * Deployment runtime benchmark (`npm run bench -- runtime [--n=100,200,500] [--minutes=5] [--baseline=10]`):
 * N paper deployments on 1-minute bars replayed at real speed (one bar close per wall minute, all deployments on
 * the same close), on this machine's dev server, both worker processes, Postgres, Redis and the paper broker.
 * Per N: p50/p99 from the bar close to the order accepted by the broker and to the cycle recorded, and missed
 * ticks; a small N with the same setup runs first as the baseline. Goal: 500 deployments, p99 <= 2 s, no missed
 * tick. See bench/lib/runtime-round.ts for one round and bench/lib/history-breakdown.ts for where time goes.
 */
import { copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBundles, buildIoBundleFrom } from '../harness/bundles';
import { loadReplaySource, replaySession } from './lib/replay-bars';
import { parseRuntimeOptions } from './lib/runtime-options';
import { runRound, type RoundResult } from './lib/runtime-round';

const GOAL = { deployments: 500, p99Ms: 2000, missedTicks: 0 } as const;

const ratio = (a: number | null, b: number | null | undefined) => (a !== null && b ? Math.round((a / b) * 100) / 100 : null);

/** The IO bundle plus the floor workflow (bench/runtime-floor-workflow.ts), beside the CPU bundle of `bundleDir`. */
async function buildFloorBundles(bundleDir: string): Promise<string> {
  const dir = path.join(bundleDir, '..', 'floor-bundles');
  await buildIoBundleFrom(require.resolve('./runtime-floor-workflow'), dir);
  copyFileSync(path.join(bundleDir, 'cpu.js'), path.join(dir, 'cpu.js'));
  return dir;
}

export async function benchRuntime(): Promise<Record<string, unknown>> {
  const opts = parseRuntimeOptions(process.argv.slice(2));
  const source = loadReplaySource(opts.data);
  const replay = replaySession();
  const bundleDir = opts.workflowBundle ? path.resolve(opts.workflowBundle) : path.resolve(__dirname, '..', '.local', 'bench-runtime', 'bundles');
  if (!opts.workflowBundle) await buildBundles(bundleDir);
  const floorBundleDir = opts.floor === 'none' ? undefined : await buildFloorBundles(bundleDir);
  const floorAt = new Set(opts.floor === 'all' ? opts.n : opts.floor === 'largest' ? [Math.max(...opts.n)] : []);
  const t0 = Date.now();
  const setupFor = (label: string) => ({
    opts,
    bundleDir,
    source,
    replay,
    log: (m: string) => console.log(`[runtime ${label} +${Math.round((Date.now() - t0) / 1000)}s] ${m}`),
  });
  console.log(
    `runtime bench: N=${opts.n.join(',')} (baseline ${opts.baseline || 'none'}), ${opts.minutes} measured closes each after a warm-up close; ` +
      `data ${source.name}; ${opts.ioWorkers} IO worker(s) + 1 CPU worker; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );

  const baseline = opts.baseline > 0 ? await runRound(opts.baseline, setupFor(`baseline N=${opts.baseline}`)) : undefined;
  type Run = RoundResult & { p99RatioToBaseline: number | null; cycleP99RatioToBaseline: number | null; floor?: RoundResult; p99RatioToFloor?: number | null; cycleP99RatioToFloor?: number | null };
  const runs: Run[] = [];
  for (const n of opts.n) {
    const r = await runRound(n, setupFor(`N=${n}`));
    const run: Run = { ...r, p99RatioToBaseline: ratio(r.p99Ms, baseline?.p99Ms), cycleP99RatioToBaseline: ratio(r.cycleP99Ms, baseline?.cycleP99Ms) };
    if (floorBundleDir && floorAt.has(n)) {
      // Right after the runtime round, on the same machine state: the same N of the floor workflow.
      const floor = await runRound(n, { ...setupFor(`floor N=${n}`), bundleDir: floorBundleDir, workflowType: 'runtimeFloorWorkflow' });
      Object.assign(run, { floor, p99RatioToFloor: ratio(r.p99Ms, floor.cycleP99Ms), cycleP99RatioToFloor: ratio(r.cycleP99Ms, floor.cycleP99Ms) });
    }
    runs.push(run);
  }

  const goalRun = runs.find((r) => r.deployments === GOAL.deployments);
  const passed = !!goalRun && goalRun.p99Ms !== null && goalRun.p99Ms <= GOAL.p99Ms && goalRun.missedTicks <= GOAL.missedTicks;
  for (const r of [...(baseline ? [baseline] : []), ...runs] as Run[]) {
    console.log(
      `N=${r.deployments}: order p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms; cycle p50 ${r.cycleP50Ms} ms p99 ${r.cycleP99Ms} ms; ` +
        `missed ${r.missedTicks}/${r.expectedTicks}, late ${r.lateTicks}; ${r.orders} orders on ${r.ticks} ticks (${Math.round(r.orderTickShare * 100)} %)` +
        ('p99RatioToBaseline' in r ? `; p99 / baseline ${String(r.p99RatioToBaseline)}` : '') +
        (r.cpuMsPerCycle ? `; CPU per cycle ${r.cpuMsPerCycle.total} ms (${JSON.stringify(r.cpuMsPerCycle)})` : ''),
    );
    const f = r.floor;
    if (f) {
      console.log(
        `  floor N=${f.deployments} (timer + one task + one audit row): recorded p50 ${f.cycleP50Ms} ms p99 ${f.cycleP99Ms} ms, missed ${f.missedTicks}` +
          (f.cpuMsPerCycle ? `, CPU per cycle ${f.cpuMsPerCycle.total} ms` : '') +
          `; runtime order p99 / floor p99 ${String(r.p99RatioToFloor)}, cycle p99 / floor p99 ${String(r.cycleP99RatioToFloor)}` +
          (f.deployments === GOAL.deployments && f.cycleP99Ms !== null ? `; the floor alone ${f.cycleP99Ms <= GOAL.p99Ms ? 'meets' : 'misses'} the ${GOAL.p99Ms} ms goal` : ''),
      );
    }
  }
  return {
    setup: {
      machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30) },
      data: source.name,
      replay: `XNYS session ${new Date(replay.session.open).toISOString().slice(0, 10)}, clock speed 1 from ${new Date(replay.anchorMs).toISOString()} (data time), one clock shared by all deployments`,
      strategy: 'sma-cross {period: 2}, quantity 1, long-only, one symbol per deployment, one paper account',
      settleDelayMs: opts.settleMs,
      barCache: opts.barCache,
      ioWorkers: opts.ioWorkers,
      cpuWorkers: 1,
      workerEnv: opts.workerEnv,
      workflowBundle: opts.workflowBundle ?? 'built from this checkout',
      measuredClosesPerN: opts.minutes,
      timestamps:
        'bar close in wall time = the replay clock mapping of the bar close (data time); order accepted = paper_orders.created_at (the paper broker clock in the transaction that accepted it); cycle recorded = deployment_cycles.created_at (Postgres now() of the recordCycle insert); one host clock',
      stack: 'a fresh private stack under .local/bench-runtime (Postgres, Redis, in-memory Temporal dev server), paper broker and worker processes per N',
    },
    runs,
    baseline,
    goal: GOAL,
    passed,
    floorMeetsGoal: goalRun?.floor ? goalRun.floor.cycleP99Ms !== null && goalRun.floor.cycleP99Ms <= GOAL.p99Ms && goalRun.floor.missedTicks === 0 : null,
    ...(goalRun ? {} : { why: `no run with ${GOAL.deployments} deployments in --n=${opts.n.join(',')}` }),
  };
}
