/**
 * A short R12 (liquidations under broker faults, an IO worker killed, Postgres and Redis restarted) end to end: a
 * Postgres and a Redis of the scenario's own, two IO worker processes, the paper broker, the shared test Temporal
 * server and the pre-built test bundles. The full scenario (100 liquidations): `npm run chaos -- r12`.
 */
import path from 'node:path';
import { r12, runScenario } from '../../chaos';
import { STACK_FILE, testStack } from '../helpers/stack';

test('r12 (short): 6 liquidations under faults and restarts: each flat in time or alerted, no duplicate order', async () => {
  const stack = testStack();
  const result = await runScenario(r12({ runs: 6, concurrency: 3, disruptEveryMs: 6_000 }), {
    log: () => undefined,
    writeResult: false,
    existingStack: { DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS },
    bundleDir: stack.WORKFLOW_BUNDLE_DIR,
    serversDir: path.join(path.dirname(STACK_FILE), 'chaos-r12'),
  });
  expect({ failures: result.failures, notOk: result.notOk }).toEqual({ failures: [], notOk: [] });
  expect(result).toMatchObject({ passed: true, runs: 6, duplicateOrders: 0, closeDuplicates: 0, unresolvedCloses: 0, lateControls: { runs: 1, alerted: 1 } });
  expect(result.flatInTime as number + (result.alerted as number)).toBe(6);
  expect((result.disruptions as unknown[]).length).toBeGreaterThan(0);
  expect(result.closeOrders).toBeGreaterThanOrEqual(12);
}, 300_000);
