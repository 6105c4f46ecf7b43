/**
 * Deployment runtime benchmark (`npm run bench -- runtime [--n=100,500,2000] [--evaluation=batch] [--minutes=5]
 * [--baseline=10] [--floor=goal]`): N paper deployments on 1-minute bars replayed at real speed (one bar close per
 * wall minute, all deployments on the same close), on this machine's dev server, both worker processes, Postgres,
 * Redis and the paper broker. Per N: p50/p99 from the bar close to the order accepted by the broker and to the
 * cycle recorded, missed ticks, and the CPU of all those processes per deployment and close; a small N with the
 * same setup runs first as the baseline, and the floor of the per-deployment design (a timer, one task, one audit
 * row per deployment and close) runs at the goal's N for comparison. Goals: bench/lib/runtime-goals.ts. See
 * bench/lib/runtime-round.ts for one round and bench/lib/history-breakdown.ts for where time goes.
 */
import { copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBundles, buildIoBundleFrom } from '../harness/bundles';
import { loadReplaySource, replaySession } from './lib/replay-bars';
import { checkGoals, floorComparison, goalLine, GOALS, ratio, type FloorComparison } from './lib/runtime-goals';
import { floorDeployments, parseRuntimeOptions } from './lib/runtime-options';
import { runRound, type RoundResult } from './lib/runtime-round';

/** The IO bundle plus the floor workflow (bench/runtime-floor-workflow.ts), beside the CPU bundle of `bundleDir`. */
async function buildFloorBundles(bundleDir: string): Promise<string> {
  const dir = path.join(bundleDir, '..', 'floor-bundles');
  await buildIoBundleFrom(require.resolve('./runtime-floor-workflow'), dir);
  copyFileSync(path.join(bundleDir, 'cpu.js'), path.join(dir, 'cpu.js'));
  return dir;
}

type Run = RoundResult & { p99RatioToBaseline: number | null; cycleP99RatioToBaseline: number | null; floor?: RoundResult; vsFloor?: FloorComparison };

const cpuText = (r: RoundResult) =>
  r.cpuPerDeploymentClose
    ? `CPU per deployment-close ${r.cpuPerDeploymentClose.total} ms (${Object.entries(r.cpuPerDeploymentClose.byGroup).map(([g, ms]) => `${g} ${ms}`).join(', ')})`
    : 'CPU per deployment-close n/a';

function printRun(r: Run | RoundResult): void {
  console.log(
    `N=${r.deployments} (${r.evaluation}): order p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms; cycle p50 ${r.cycleP50Ms} ms p99 ${r.cycleP99Ms} ms; ` +
      `missed ${r.missedTicks}/${r.expectedTicks}, late ${r.lateTicks}; ${r.orders} orders on ${r.ticks} ticks (${Math.round(r.orderTickShare * 100)} %); ${cpuText(r)}` +
      ('p99RatioToBaseline' in r && r.p99RatioToBaseline !== null ? `; p99 / baseline ${r.p99RatioToBaseline}` : ''),
  );
  if (!('vsFloor' in r) || !r.floor || !r.vsFloor) return;
  const f = r.floor;
  console.log(
    `  floor N=${f.deployments} (per-deployment design: timer + one task + one audit row): recorded p50 ${f.cycleP50Ms} ms p99 ${f.cycleP99Ms} ms, missed ${f.missedTicks}; ${cpuText(f)}; ` +
      `runtime / floor: order p99 / recorded p99 ${String(r.vsFloor.p99RatioToFloor)}, CPU ${String(r.vsFloor.cpuRatioToFloor)}`,
  );
}

export async function benchRuntime(): Promise<Record<string, unknown>> {
  const opts = parseRuntimeOptions(process.argv.slice(2));
  const source = loadReplaySource(opts.data);
  const replay = replaySession();
  const bundleDir = opts.workflowBundle ? path.resolve(opts.workflowBundle) : path.resolve(__dirname, '..', '.local', 'bench-runtime', 'bundles');
  if (!opts.workflowBundle) await buildBundles(bundleDir);
  const floorAt = floorDeployments(opts, GOALS[0]!.deployments);
  const floorBundleDir = floorAt.length ? await buildFloorBundles(bundleDir) : undefined;
  const t0 = Date.now();
  const setupFor = (label: string) => ({
    opts,
    bundleDir,
    evaluation: opts.evaluation,
    source,
    replay,
    log: (m: string) => console.log(`[runtime ${label} +${Math.round((Date.now() - t0) / 1000)}s] ${m}`),
  });
  console.log(
    `runtime bench: N=${opts.n.join(',')} (baseline ${opts.baseline || 'none'}), evaluation ${opts.evaluation}, floor at N=${floorAt.join(',') || 'none'}; ` +
      `${opts.minutes} measured closes each after a warm-up close; data ${source.name}; ${opts.ioWorkers} IO worker(s) + 1 CPU worker; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );

  const baseline = opts.baseline > 0 ? await runRound(opts.baseline, setupFor(`baseline N=${opts.baseline}`)) : undefined;
  const runs: Run[] = [];
  for (const n of opts.n) {
    const r = await runRound(n, setupFor(`N=${n}`));
    const run: Run = { ...r, p99RatioToBaseline: ratio(r.p99Ms, baseline?.p99Ms), cycleP99RatioToBaseline: ratio(r.cycleP99Ms, baseline?.cycleP99Ms) };
    if (floorBundleDir && floorAt.includes(n)) {
      // Right after the runtime round, on the same machine state: the same N of the floor workflow, evaluated by nobody else.
      const floor = await runRound(n, { ...setupFor(`floor N=${n}`), evaluation: undefined, bundleDir: floorBundleDir, workflowType: 'runtimeFloorWorkflow' });
      Object.assign(run, { floor, vsFloor: floorComparison(r, floor) });
    }
    runs.push(run);
  }

  const { goals, passed, why } = checkGoals(runs);
  if (baseline) printRun(baseline);
  for (const r of runs) printRun(r);
  for (const g of goals) console.log(goalLine(g));
  const floorRuns = runs.filter((r) => r.vsFloor);
  const goalFloor = runs.find((r) => r.deployments === GOALS[0]!.deployments)?.floor;
  return {
    setup: {
      machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30) },
      evaluation: opts.evaluation,
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
      floorAt,
      timestamps:
        'bar close in wall time = the replay clock mapping of the bar close (data time); order accepted = paper_orders.created_at (the paper broker clock in the transaction that accepted it); ' +
        "cycle recorded = deployment_cycles.created_at (Postgres now() of the insert: the deployment's recordCycle; in batch mode the group evaluator's one insert per close for the cycles that do nothing, and the woken deployment's actOnDeploymentAction (or placeDecidedOrderAndRecord for an action of several symbols), which writes the row after its order, for those that act); one host clock",
      cpu:
        'cpuMsPerDeploymentClose = CPU ms (user + system, from /proc) of every stack process: the Temporal dev server, the IO and CPU workers, Postgres (postmaster, all backends and background processes, reaped ones included), ' +
        'Redis, the paper broker and this process, with whatever each forks, over whole bar periods [close - 0.1 s, next close - 0.1 s) of the measured closes, / (deployments x measured closes); ' +
        "the harness' watchdog shells and the machine's interrupt time are reported beside it (notCounted), not in it",
      stack: 'a fresh private stack under .local/bench-runtime (Postgres, Redis, in-memory Temporal dev server), paper broker and worker processes per N',
    },
    runs,
    baseline,
    floorComparison: floorRuns.map((r) => r.vsFloor),
    goals,
    passed,
    // whether the per-deployment design could reach the latency goal even doing nothing but wake and record
    floorMeetsGoal: goalFloor ? goalFloor.cycleP99Ms !== null && goalFloor.cycleP99Ms <= GOALS[0]!.p99Ms! && goalFloor.missedTicks === 0 : null,
    ...(why ? { why } : {}),
  };
}
