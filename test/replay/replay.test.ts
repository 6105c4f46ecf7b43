import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { testStack } from '../helpers/stack';

/**
 * The replay gate: every committed history (recorded by scripts/record-histories.ts) must replay against
 * the current workflow code; a deliberately changed workflow must not.
 */
const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const queueOf = (file: string) => (file.startsWith('backtest') || file.startsWith('stress-scan') ? 'cpu' : 'io');
const load = (file: string) => JSON.parse(readFileSync(path.join(dir, file), 'utf8'));

test('there is a recorded history for every backtest outcome', () => {
  expect(files).toEqual(expect.arrayContaining(['backtest--completed.json', 'backtest--failed-no-bars.json', 'backtest--cancelled.json']));
});

/** What a deployment history shows: activities, local activities (markers), recordCycle actions and reasons (activities only), continue-as-new. */
const seen = (file: string) => {
  const history = historyFromJSON(load(file));
  const out = { activities: new Set<string>(), localActivities: new Set<string>(), actions: new Set<string>(), reasons: [] as string[], continuedAsNew: false };
  for (const e of history.events ?? []) {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      out.localActivities.add(defaultPayloadConverter.fromPayload<{ activity_type: string }>(marker.details!.data!.payloads![0]!).activity_type);
    }
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name) out.activities.add(a.activityType.name);
    if (a?.activityType?.name === 'recordCycle') {
      const { record } = defaultPayloadConverter.fromPayload<{ record: { action: string; reason?: string } }>(a.input!.payloads![0]!);
      out.actions.add(record.action);
      out.reasons.push(record.reason ?? '');
    }
    if (e.workflowExecutionContinuedAsNewEventAttributes) out.continuedAsNew = true;
  }
  return out;
};

test('there is a recorded deployment history for every cycle branch, and each shows its branch', () => {
  expect(seen('deployment--trade.json').activities).toContain('placeOrder');
  expect(seen('deployment--stale-data.json').reasons.some((r) => r.startsWith('stale-data'))).toBe(true);
  expect(seen('deployment--risk-reject.json').reasons.some((r) => r.startsWith('min-order-qty'))).toBe(true);
  expect(seen('deployment--kill-switch.json').reasons.some((r) => r.startsWith('kill-switch'))).toBe(true);
  expect(seen('deployment--continue-as-new.json').continuedAsNew).toBe(true);
});

test('the histories recorded since patch cycle-one-task sync the broker inside the cycle task and still place orders as activities', () => {
  const branches = ['trade', 'stale-data', 'risk-reject', 'kill-switch', 'continue-as-new'];
  for (const branch of branches) {
    const h = seen(`deployment--${branch}--one-task.json`);
    expect(h.localActivities).toEqual(new Set(['syncOrders', 'loadRecentBars', 'loadRiskSnapshot', 'recordCycle', ...(h.localActivities.has('setPaperPrices') ? ['setPaperPrices'] : [])]));
    expect(h.activities.has('syncOrders')).toBe(false);
    expect(h.activities.has('placeOrder')).toBe(branch === 'trade');
  }
  // the paper broker hears prices only on cycles that order (or have orders open)
  expect(seen('deployment--trade--one-task.json').localActivities.has('setPaperPrices')).toBe(true);
  expect(seen('deployment--kill-switch--one-task.json').localActivities.has('setPaperPrices')).toBe(false);
  expect(seen('deployment--continue-as-new--one-task.json').continuedAsNew).toBe(true);
});

test('the histories recorded since patch cycle-inputs-one-step read sync, bars and risk in one local activity', () => {
  for (const branch of ['trade', 'stale-data', 'risk-reject', 'kill-switch', 'continue-as-new']) {
    const h = seen(`deployment--${branch}--one-step.json`);
    expect(h.localActivities).toEqual(new Set(['loadCycleInputs', 'recordCycle', ...(h.localActivities.has('setPaperPrices') ? ['setPaperPrices'] : []), ...(h.localActivities.has('syncOrders') ? ['syncOrders'] : [])]));
    expect(h.activities.has('placeOrder')).toBe(branch === 'trade');
  }
  // after an order the cycle syncs once more (a local activity), so the fill is in before the next decision
  expect(seen('deployment--trade--one-step.json').localActivities).toEqual(new Set(['loadCycleInputs', 'recordCycle', 'setPaperPrices', 'syncOrders']));
  expect(seen('deployment--continue-as-new--one-step.json').continuedAsNew).toBe(true);
});

test('the histories recorded since patch cycle-bars-incremental carry the whole bar window once per run, then only new bars', () => {
  for (const branch of ['trade', 'stale-data', 'risk-reject', 'kill-switch', 'continue-as-new']) {
    const file = `deployment--${branch}--incremental.json`;
    expect(seen(file).localActivities.has('loadCycleInputs')).toBe(true);
    const sizes = (historyFromJSON(load(file)).events ?? [])
      .map((e) => e.markerRecordedEventAttributes)
      .filter((m) => m?.markerName === 'core_local_activity' && defaultPayloadConverter.fromPayload<{ activity_type: string }>(m.details!.data!.payloads![0]!).activity_type === 'loadCycleInputs')
      .map((m) => m!.details!.result!.payloads![0]!.data!.length);
    expect(sizes.length).toBeGreaterThan(3);
    expect(sizes[0]).toBeGreaterThan(10_000); // the first cycle: the whole window
    expect(Math.max(...sizes.slice(1))).toBeLessThan(3_000); // later cycles: the bars since the last one
  }
});

test.each(files)('replays %s', async (file) => {
  const codePath = path.join(testStack().WORKFLOW_BUNDLE_DIR, `${queueOf(file)}.js`);
  await Worker.runReplayHistory({ workflowBundle: { codePath } }, load(file));
});

test('a changed workflow fails replay of the recorded histories', async () => {
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./changed/backtest-changed'), logger: quiet });
  for (const file of ['backtest--completed.json', 'backtest--cancelled.json']) {
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, load(file))).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  }
});
