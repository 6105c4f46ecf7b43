/**
 * A short R6 (broker error storm: 30% 5xx, 10% 429, 5% rejects) end to end: a real IO worker process, the paper
 * broker, the shared test servers (Postgres, Redis, Temporal dev server) and the pre-built test bundles. The
 * deployments are batch-evaluated (the harness's default): their group's evaluator decides, they act.
 * The full scenarios run with `npm run chaos -- <r1|r5|r6|r13>`.
 */
import { r6, runScenario } from '../../chaos';
import { testStack } from '../helpers/stack';

test('r6 (short): no duplicate order, no lost fill, nothing stuck under a broker error storm', async () => {
  const stack = testStack();
  const result = await runScenario(r6({ chaosMs: 30_000, deployments: 6, minCycles: 60 }), {
    log: () => undefined,
    writeResult: false,
    existingStack: { DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS },
    bundleDir: stack.WORKFLOW_BUNDLE_DIR,
  });
  expect(result.failures).toEqual([]);
  expect(result).toMatchObject({ passed: true, duplicateOrders: 0, lostFills: 0, stuckWorkflows: 0, cycleGaps: 0, evaluation: 'batch' });
  expect(result.orders).toBeGreaterThan(0);
  // Batch-evaluated (the harness's default): one evaluator decided the closes, and every action it stored was ended.
  const batch = result.evaluators as { evaluators: number; closes: number; closesFailed: number; workflowTaskFailures: number; actions: Record<string, number> };
  expect(batch).toMatchObject({ evaluators: 1, workflowTaskFailures: 0 });
  expect(batch.closes).toBeGreaterThan(10);
  expect(batch.actions.done).toBeGreaterThan(0);
  expect(batch.actions.pending ?? 0).toBe(0);
}, 120_000);
