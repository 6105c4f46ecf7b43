/**
 * Short R3 (Postgres killed and restarted mid-cycle) and R4 (Redis stopped and killed) end to end: a Postgres and a
 * Redis of each scenario's own, a real IO worker, a CPU worker and the API as processes, the paper broker, the shared
 * test Temporal server and the pre-built test bundles. The full scenarios: `npm run chaos -- r3` / `-- r4`.
 */
import path from 'node:path';
import { r3, r4, runScenario, type ScenarioResult } from '../../chaos';
import { STACK_FILE, testStack } from '../helpers/stack';

const run = (def: Parameters<typeof runScenario>[0]): Promise<ScenarioResult> => {
  const stack = testStack();
  return runScenario(def, {
    log: () => undefined,
    writeResult: false,
    existingStack: { DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS },
    bundleDir: stack.WORKFLOW_BUNDLE_DIR,
    serversDir: path.join(path.dirname(STACK_FILE), `chaos-${def.name}`),
  });
};

interface OutageFigure {
  how: string;
  health: { degradedSamples: number; okSamples: number };
  recovery: { healthOkAfterMs: number | null; allDeploymentsCycledAfterMs: number | null };
}

test('r3 (short): Postgres killed and restarted cleanly mid-cycle: nothing duplicated, lost or stuck; /health names it, then recovers', async () => {
  const result = await run(
    r3({ deployments: 3, baselineMs: 6_000, calmMs: 2_000, minCycles: 20, minOrders: 2, outages: [{ how: 'sigkill', downMs: 4_000 }, { how: 'clean-restart', downMs: 0 }] }),
  );
  expect(result.failures).toEqual([]);
  expect(result).toMatchObject({ passed: true, duplicateOrders: 0, lostFills: 0, stuckWorkflows: 0, cycleGaps: 0, processCrashes: { ioWorkers: 0, cpuWorkers: 0, api: 0 } });
  const [killed] = result.outages as OutageFigure[];
  expect(killed!.health.degradedSamples).toBeGreaterThan(0);
  expect(killed!.health.okSamples).toBe(0);
  expect(killed!.recovery.healthOkAfterMs).not.toBeNull();
}, 120_000);

test('r4 (short): Redis stopped and killed mid-cycle: trading goes on from Postgres; /health names it, then recovers', async () => {
  const result = await run(r4({ deployments: 3, baselineMs: 4_000, stopMs: 8_000, killMs: 4_000, calmMs: 2_000, probeEveryMs: 3_000, minCycles: 20, minOrders: 2 }));
  expect(result.failures).toEqual([]);
  expect(result).toMatchObject({ passed: true, duplicateOrders: 0, lostFills: 0, stuckWorkflows: 0, processCrashes: { ioWorkers: 0, cpuWorkers: 0, api: 0, paperBroker: 0 } });
  expect((result.marketDataProbes as Array<{ phase: string; source?: string }>).filter((p) => p.phase.startsWith('during')).every((p) => p.source === 'postgres')).toBe(true);
}, 120_000);
