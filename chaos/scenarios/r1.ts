/**
 * R1: SIGKILL the IO worker at the order-protocol crash points (each start arms the point hit least so far, with
 * CRASH_PROBABILITY) and at random times from the harness; the supervisor restarts every dead worker.
 * A killed worker's in-flight activity is retried only after its start-to-close timeout (30 s), so every kill
 * stalls some deployments; cycles whose data went stale meanwhile skip (recorded), which is the intended behaviour.
 */
import type { CrashPoint } from '../../activities/orders';
import { sleep } from '../../harness/async';
import type { ScenarioDef } from '../lib/run-scenario';

const POINTS: CrashPoint[] = ['before_ledger_insert', 'after_ledger_insert', 'after_broker_send', 'after_ledger_update', 'mid_fill_ingest'];

export function r1(opts: { minCycles?: number; minOrders?: number; maxMs?: number; probability?: number; hitsPerPoint?: number; harnessKills?: number } = {}): ScenarioDef {
  const minCycles = opts.minCycles ?? 100;
  const minOrders = opts.minOrders ?? 20;
  const maxMs = opts.maxMs ?? 300_000;
  const probability = opts.probability ?? 0.2;
  const hitsPerPoint = opts.hitsPerPoint ?? 2;
  const harnessKills = opts.harnessKills ?? 5;
  return {
    name: 'r1',
    deployments: 12,
    workers: 2,
    minCycles,
    minOrders,
    workerEnv: (n, stats) => {
      const least = Math.min(...POINTS.map((p) => stats.crashPointHits[p] ?? 0));
      const candidates = POINTS.filter((p) => (stats.crashPointHits[p] ?? 0) === least);
      return { CRASH_AT: candidates[n % candidates.length]!, CRASH_PROBABILITY: String(probability) };
    },
    async drive(ctx) {
      const start = Date.now();
      const every = () => 15_000 + ctx.rng() * 10_000;
      let nextKill = start + every();
      // Until enough cycles and orders were recorded, every crash point fired `hitsPerPoint` times and the harness
      // killed `harnessKills` times, within maxMs.
      while (Date.now() - start < maxMs) {
        const hits = ctx.supervisor.stats.crashPointHits;
        if (
          (await ctx.cycles()) >= minCycles * 1.3 &&
          (await ctx.orders()) >= minOrders * 1.3 &&
          POINTS.every((p) => (hits[p] ?? 0) >= hitsPerPoint) &&
          ctx.supervisor.stats.harnessKills >= harnessKills
        )
          break;
        if (Date.now() >= nextKill) {
          ctx.supervisor.killOne(ctx.rng());
          nextKill = Date.now() + every();
        }
        await sleep(1_000);
      }
      const hits = ctx.supervisor.stats.crashPointHits;
      ctx.log(`kills: ${JSON.stringify(ctx.supervisor.stats)}`);
      const skipped = await ctx.pool.query<{ reason: string; n: number }>(
        `SELECT split_part(coalesce(reason, action), ':', 1) AS reason, count(*)::int AS n FROM deployment_cycles WHERE deployment_id = ANY($1::uuid[]) GROUP BY 1 ORDER BY 2 DESC`,
        [ctx.deployments.map((d) => d.id)],
      );
      return {
        crashProbability: probability,
        crashPointsNotHit: POINTS.filter((p) => !(hits[p] ?? 0)),
        cycleReasons: Object.fromEntries(skipped.rows.map((r) => [r.reason, r.n])),
        chaosPhaseMs: Date.now() - start,
      };
    },
    async verify(ctx) {
      const hits = ctx.supervisor.stats.crashPointHits;
      const notHit = POINTS.filter((p) => !(hits[p] ?? 0));
      return { figures: {}, passed: notHit.length === 0, why: notHit.length ? [`crash points never fired: ${notHit.join(', ')}`] : [] };
    },
  };
}
