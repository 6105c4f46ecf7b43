/**
 * A short R7 end to end: approval requests opened as a deployment cycle opens them, a real IO worker process, the
 * paper broker and the real API process on the shared test servers. Duplicated approvals give one order each,
 * forged signals give none (one audit row each, and the requests expire), and an approve/reject race ends in
 * exactly one decision. The full run (100 + 100 + 20) is `npm run chaos -- r7`.
 */
import { r7, runScenario } from '../../chaos';
import { testStack } from '../helpers/stack';

test('r7 (short): duplicated approvals give one order each, forged ones none, a race one decision', async () => {
  const stack = testStack();
  const result = await runScenario(r7({ approvals: 20, forged: 20, races: 10, forgedExpiryMs: 12_000 }), {
    log: () => undefined,
    writeResult: false,
    existingStack: { DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS },
    bundleDir: stack.WORKFLOW_BUNDLE_DIR,
  });
  expect(result.failures).toEqual([]);
  expect(result).toMatchObject({
    passed: true,
    approvals: 20,
    approveAccepted: 20,
    approveConflicts: 80,
    orders: 20,
    brokerOrders: 20,
    duplicateOrders: 0,
    lostFills: 0,
    forgedSignals: 20,
    forgedOrders: 0,
    auditRows: 20,
    forgedExpired: 20,
    races: 10,
    raceInconsistent: 0,
  });
  // Each race ended with one winner, and only the races the approval won placed an order.
  expect(Number(result.raceWonByApprove) + Number(result.raceWonByReject)).toBe(10);
  expect(result.raceOrders).toBe(result.raceWonByApprove);
}, 120_000);
