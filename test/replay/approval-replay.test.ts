import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { TradeApprovalResult } from '../../workflows/approval/messages';

/**
 * The approval fixtures in the replay gate (replay.test.ts replays every history in histories/ against the IO
 * bundle): one per branch, each showing its branch, and a changed tradeApprovalWorkflow must fail to replay them.
 * Re-record with `npx tsx scripts/record-approval-histories.ts`.
 */
const BRANCHES = ['approved', 'rejected', 'expired'] as const;
const load = (branch: string) => JSON.parse(readFileSync(path.join(__dirname, 'histories', `approval--${branch}.json`), 'utf8'));

function shape(branch: string) {
  const history = historyFromJSON(load(branch));
  const activities: string[] = [];
  let localSteps = 0;
  let signals = 0;
  let result: TradeApprovalResult | undefined;
  for (const e of history.events ?? []) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) activities.push(name);
    if (e.markerRecordedEventAttributes) localSteps++;
    if (e.workflowExecutionSignaledEventAttributes) signals++;
    const done = e.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
    if (done) result = defaultPayloadConverter.fromPayload<TradeApprovalResult>(done);
  }
  return { activities, localSteps, signals, result };
}

test('each approval history shows its branch', () => {
  const approved = shape('approved');
  expect(approved.result?.status).toBe('executed');
  expect(approved.signals).toBe(1);
  // The database steps are local activities (markers): verify, re-check, finish; only the broker call is a task.
  expect(approved.activities).toEqual(['placeOrder']);
  expect(approved.localSteps).toBeGreaterThanOrEqual(3); // plus a settle re-read each 30 s of waiting

  const rejected = shape('rejected');
  expect(rejected.result?.status).toBe('rejected');
  expect(rejected.signals).toBe(1);
  expect(rejected.activities).toEqual([]);
  expect(rejected.localSteps).toBeGreaterThanOrEqual(1);

  const expired = shape('expired');
  expect(expired.result?.status).toBe('expired');
  expect(expired.signals).toBe(0);
  expect(expired.activities).toEqual([]);
  expect(expired.localSteps).toBeGreaterThan(0); // settle reads every 30 s, then the one that expires it
});

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

test('a changed tradeApprovalWorkflow fails replay of every approval history', async () => {
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./changed/approval-changed'), logger: quiet });
  for (const branch of BRANCHES) {
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, load(branch))).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  }
}, 60_000);

test('dropping the re-check after approval fails replay of the approved history only', async () => {
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./changed/approval-no-recheck'), logger: quiet });
  await expect(Worker.runReplayHistory({ workflowBundle: bundle }, load('approved'))).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  // The other branches never reach the changed code: they still replay, so the failure above is the re-check's.
  for (const branch of ['rejected', 'expired']) await Worker.runReplayHistory({ workflowBundle: bundle }, load(branch));
}, 60_000);
