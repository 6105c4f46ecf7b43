/**
 * R3: Postgres restarted mid-cycle. While deployments cycle, the scenario's own Postgres is killed (SIGKILL of the
 * postmaster), shut down immediately (SIGQUIT: no checkpoint, crash recovery on start), stopped cleanly for 30 s
 * and restarted cleanly, each time at a moment when an order is in flight (a ledger row in INTENT or SUBMITTING).
 * The paper broker executes half of the orders and answers them 1.5 s later, so faults also land between the
 * broker's execution and the ledger's update, while the kill-switch gate's connection is checked out.
 *
 * Passes when, besides the harness's checks (no duplicate order, no lost fill, nothing stuck, every cycle audited,
 * no worker or API crash): /health named Postgres as down (503, degraded) throughout each outage and was ok again
 * within 30 s of its return; every deployment cycled again within 2 minutes; the API's data route answered 503 with
 * Retry-After during outages, never another 5xx.
 */
import { sleep, withTimeout } from '../../harness/async';
import type { ScenarioDef } from '../lib/run-scenario';
import { recoveryAfter, verifyOutages, waitForOrderInFlight, type OutageWindow } from '../lib/outages';

export type PgFault = 'sigkill' | 'immediate' | 'clean-stop' | 'clean-restart';

export interface PgOutage {
  how: PgFault;
  /** from the fault to the start command (a clean restart: 0) */
  downMs: number;
}

export const R3_OUTAGES: PgOutage[] = [
  { how: 'sigkill', downMs: 5_000 },
  { how: 'immediate', downMs: 10_000 },
  { how: 'clean-stop', downMs: 30_000 },
  { how: 'clean-restart', downMs: 0 },
  { how: 'sigkill', downMs: 15_000 },
];

/** SIGQUIT to the postmaster is Postgres's immediate shutdown (pg_ctl stop -m immediate). */
const SIGNAL: Partial<Record<PgFault, NodeJS.Signals>> = { sigkill: 'SIGKILL', immediate: 'SIGQUIT' };
const LIMITS = { healthOkWithinMs: 30_000, cyclesWithinMs: 120_000 };

export function r3(opts: { outages?: PgOutage[]; deployments?: number; minCycles?: number; minOrders?: number; baselineMs?: number; calmMs?: number } = {}): ScenarioDef {
  const outages = opts.outages ?? R3_OUTAGES;
  const windows: OutageWindow[] = [];
  return {
    name: 'r3',
    deployments: opts.deployments ?? 6,
    workers: 1,
    ownServers: true,
    api: true,
    minCycles: opts.minCycles ?? 200,
    minOrders: opts.minOrders ?? 20,
    // "Executed, then answered 1.5 s later" (shorter than the adapter's 10 s timeout): a slow broker, not a failing one.
    faults: { seed: 3, executeThenTimeout: 0.5, timeoutMs: 1_500 },
    async drive(ctx) {
      const pg = ctx.stack.postgres;
      if (!pg) throw new Error('r3 needs a Postgres of its own (ownServers)');
      const start = Date.now();
      await sleep(opts.baselineMs ?? 20_000);
      for (const [i, outage] of outages.entries()) {
        const inFlight = await waitForOrderInFlight(ctx, 15_000);
        const downAt = Date.now();
        const signal = SIGNAL[outage.how];
        if (signal) await pg.kill(signal);
        else await pg.stop();
        await sleep(Math.max(0, downAt + outage.downMs - Date.now()));
        const startAt = Date.now();
        await withTimeout('postgres start', 120_000, pg.start());
        const upAt = Date.now();
        ctx.log(`outage ${i + 1}/${outages.length} (${outage.how}, ${inFlight} orders in flight): postgres down ${((upAt - downAt) / 1000).toFixed(1)} s`);
        const recovery = await recoveryAfter(ctx, upAt, LIMITS.cyclesWithinMs + 10_000);
        ctx.log(`  health ok after ${recovery.healthOkAfterMs} ms, every deployment cycled after ${recovery.allDeploymentsCycledAfterMs} ms`);
        windows.push({ how: outage.how, downAt, startAt, upAt, recovery, ordersInFlightAtFault: inFlight });
        if (i < outages.length - 1) await sleep(opts.calmMs ?? 10_000);
      }
      return { chaosPhaseMs: Date.now() - start, brokerAnswerDelayMs: 1_500 };
    },
    verify: (ctx) => verifyOutages(ctx, windows, 'postgres', LIMITS),
  };
}
