import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { testStack } from '../helpers/stack';
import { historySummaries, ORDER_WAKE_LINE } from '../helpers/user-metadata';
import { actWakesOfHistory } from '../../harness/history-events';

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

/** What a deployment history shows: activities, local activities (from their markers), and how many of each event. */
const seen = (file: string) => {
  const history = historyFromJSON(load(file));
  const out = { firstActivity: undefined as string | undefined, activities: new Set<string>(), localActivities: new Map<string, number>(), events: new Map<string, number>(), markers: [] as Array<{ type: string; result: unknown }> };
  for (const e of history.events ?? []) {
    const kind = Object.keys(e).find((k) => k.endsWith('EventAttributes'));
    if (kind) out.events.set(kind, (out.events.get(kind) ?? 0) + 1);
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const type = defaultPayloadConverter.fromPayload<{ activity_type: string }>(marker.details!.data!.payloads![0]!).activity_type;
      out.localActivities.set(type, (out.localActivities.get(type) ?? 0) + 1);
      const payload = marker.details?.result?.payloads?.[0];
      out.markers.push({ type, result: payload ? defaultPayloadConverter.fromPayload(payload) : undefined });
    }
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name) {
      out.firstActivity ??= a.activityType.name;
      out.activities.add(a.activityType.name);
    }
  }
  return out;
};
const count = (h: ReturnType<typeof seen>, kind: string) => h.events.get(kind) ?? 0;

/**
 * The events each order wake of a batch deployment's history cost (harness/history-events.ts), for the wakes whose
 * read placed an order: the evaluator's update, the workflow task that took it alone, and that task's markers.
 */
const orderWakeEvents = (file: string) =>
  actWakesOfHistory(historyFromJSON(load(file)).events ?? [])
    .filter((w) => w.own && w.markers.some((m) => defaultPayloadConverter.fromPayload<{ placed?: unknown }>(m.markerRecordedEventAttributes!.details!.result!.payloads![0]!).placed !== undefined))
    .map((w) => ({ via: w.via, events: w.events }));

test('there is a recorded stress-scan history for each outcome, and each shows its branch', () => {
  const scans = ['completed', 'continue-as-new', 'continued', 'cancelled', 'failed-batch'];
  for (const b of scans) expect(files).toContain(`stress-scan--${b}.json`);
  const h = (b: string) => seen(`stress-scan--${b}.json`);
  for (const b of scans) expect([...h(b).activities].every((a) => ['startStressScanJob', 'runStressScanBatch', 'finishStressScan', 'finishStressScanJob'].includes(a))).toBe(true);
  // batches run several at a time: more than one scheduled in one workflow task
  expect(count(h('completed'), 'activityTaskScheduledEventAttributes')).toBe(6); // the start check, 4 batches, the final step (which completes the job)
  expect(count(h('continue-as-new'), 'workflowExecutionContinuedAsNewEventAttributes')).toBe(1);
  expect(h('continue-as-new').activities.has('finishStressScan')).toBe(false);
  // every run first checks the job it works from; the continued run then starts where the first stopped: the batches
  // left, then the final step
  for (const b of scans) expect(h(b).firstActivity).toBe('startStressScanJob');
  expect(h('continued').activities.has('finishStressScan')).toBe(true);
  expect(count(h('cancelled'), 'activityTaskCancelRequestedEventAttributes')).toBeGreaterThanOrEqual(2);
  expect(count(h('cancelled'), 'workflowExecutionCanceledEventAttributes')).toBe(1);
  expect(count(h('failed-batch'), 'activityTaskFailedEventAttributes')).toBe(1);
  expect(count(h('failed-batch'), 'activityTaskCancelRequestedEventAttributes')).toBeGreaterThanOrEqual(1);
  expect(count(h('failed-batch'), 'workflowExecutionFailedEventAttributes')).toBe(1);
});
const BRANCHES = ['trade', 'stale-data', 'risk-reject', 'kill-switch', 'continue-as-new', 'forged-command', 'stop-in-flight', 'exits', 'partial-fill', 'invalid-spec', 'scanner'];

test('there is a recorded deployment history for every scenario, and each shows its branch', () => {
  for (const b of BRANCHES) expect(files).toContain(`deployment--${b}.json`);
  expect(seen('deployment--trade.json').activities).toContain('placeOrder');
  for (const b of ['stale-data', 'risk-reject', 'kill-switch', 'continue-as-new']) expect(seen(`deployment--${b}.json`).activities.has('placeOrder')).toBe(false);
  const inputs = (b: string) => seen(`deployment--${b}.json`).markers.filter((m) => m.type === 'loadCycleInputs').map((m) => m.result as { snap: { kill: { deployment: boolean } }; windows: unknown[] });
  expect(inputs('kill-switch').every((i) => i.snap.kill.deployment)).toBe(true);
  expect(inputs('stale-data').length).toBeGreaterThan(3);
  expect(count(seen('deployment--continue-as-new.json'), 'workflowExecutionContinuedAsNewEventAttributes')).toBe(1);
});

test('a cycle that places no order is one workflow task: its reads and audit rows are local activities, it schedules no activity', () => {
  for (const b of ['stale-data', 'risk-reject', 'kill-switch', 'continue-as-new']) {
    const h = seen(`deployment--${b}.json`);
    expect([...h.localActivities.keys()].every((t) => ['verifyDeploymentStart', 'loadCycleInputs', 'recordCycle', 'loadRecordedCommands', 'checkCommandMessages', 'applyCommand'].includes(t))).toBe(true);
    // the run's first step reads the deployment as recorded (its start check), once
    expect(h.markers[0]?.type).toBe('verifyDeploymentStart');
    expect(h.localActivities.get('verifyDeploymentStart')).toBe(1);
    // ordinary activities only at the end of life: resolving what may be at the broker, then the stopped row
    expect([...h.activities].every((a) => ['resolveDeploymentOrders', 'setDeploymentStatus'].includes(a))).toBe(true);
    // one task per timer that fired (a bar, or a long wait's look for lost commands), plus one per message and the start
    const tasks = count(h, 'workflowTaskCompletedEventAttributes');
    const wakes = count(h, 'timerFiredEventAttributes') + count(h, 'workflowExecutionSignaledEventAttributes') + count(h, 'workflowExecutionUpdateAcceptedEventAttributes');
    expect(tasks).toBeLessThanOrEqual(wakes + 3);
  }
  // after an order the cycle syncs once more (a local activity), so the fill is in before the next decision
  expect(seen('deployment--trade.json').localActivities.get('syncOrders')).toBeGreaterThan(0);
});

test('the forged-command history: messages checked in batches, recorded commands applied, forged ones only audited', () => {
  const h = seen('deployment--forged-command.json');
  expect(h.localActivities.get('checkCommandMessages')).toBeGreaterThan(0);
  expect(h.localActivities.get('applyCommand')).toBe(4); // pause (an update), params, resume, stop: the forged ones apply nothing
  expect(count(h, 'workflowExecutionUpdateAcceptedEventAttributes')).toBe(2); // the pause, and the stop (sent as every tool sends it)
  const verdicts = h.markers.filter((m) => m.type === 'checkCommandMessages').flatMap((m) => (m.result as { checked: Array<{ verdict: string }> }).checked.map((c) => c.verdict));
  expect(verdicts).toEqual(expect.arrayContaining(['forged', 'malformed', 'unknown-name', 'duplicate', 'recorded']));
  expect(count(h, 'workflowTaskFailedEventAttributes')).toBe(0);
});

/** The summaries the Temporal UI shows on a history's scheduled activities, in order. */
const summaries = (file: string) =>
  (historyFromJSON(load(file)).events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes && e.userMetadata?.summary ? [defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary)] : []));

test('the exits, partial-fill and invalid-spec histories: each exit and remainder named on its activity; a malformed spec only audited', () => {
  expect(summaries('deployment--exits.json')).toEqual(expect.arrayContaining([expect.stringMatching(/^(take-profit|stop-loss|trailing-stop) 1 REC @ \d/)]));
  const partial = seen('deployment--partial-fill.json');
  expect([...partial.activities]).toEqual(expect.arrayContaining(['placeOrder', 'cancelRemainder']));
  expect(summaries('deployment--partial-fill.json').filter((x) => x.startsWith('remainder (cancel-and-replace) buy')).length).toBeGreaterThan(0);
  const invalid = seen('deployment--invalid-spec.json');
  expect([...invalid.activities]).toEqual(['refuseDeploymentSpec']);
  expect([...invalid.localActivities.keys()]).toEqual(['verifyDeploymentStart']); // the record exists; its spec does not pass
  expect(count(invalid, 'workflowExecutionCompletedEventAttributes')).toBe(1);
});

test('the scanner history: each bar screened in one local activity, entries and exits named, its phases upserted as the DeploymentPhase search attribute', () => {
  const h = seen('deployment--scanner.json');
  const scans = h.markers.filter((m) => m.type === 'scanUniverse').map((m) => m.result as { screened: number; ranked: unknown[] });
  expect(scans.length).toBeGreaterThan(70); // a whole day of 5-minute bars
  expect(scans.some((s) => s.screened === 2 && s.ranked.length > 0)).toBe(true);
  expect(summaries('deployment--scanner.json')).toEqual(expect.arrayContaining(['scanner buy 1 REC', expect.stringMatching(/^(take-profit|stop-loss|trailing-stop|eod) 1 REC/)]));
  const phases = (historyFromJSON(load('deployment--scanner.json')).events ?? []).flatMap((e) => {
    const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DeploymentPhase;
    return field ? [defaultPayloadConverter.fromPayload<string>(field)] : [];
  });
  expect(phases.slice(0, 2)).toEqual(['scanning', 'holding']);
  expect(phases[phases.length - 1]).toBe('idle'); // flat after the close
  expect(h.localActivities.get('setDeploymentPhase')).toBe(phases.length);
});

test('the stop-in-flight history: the order is cancelled in its scope, resolved, then the runtime stops', () => {
  const h = seen('deployment--stop-in-flight.json');
  expect([...h.activities]).toEqual(expect.arrayContaining(['placeOrder', 'resolveOrder', 'resolveDeploymentOrders', 'setDeploymentStatus']));
  expect(count(h, 'activityTaskCancelRequestedEventAttributes')).toBe(1);
  expect(count(h, 'workflowExecutionUpdateCompletedEventAttributes')).toBe(1);
  expect(count(h, 'workflowExecutionCompletedEventAttributes')).toBe(1);
});

test('each run holds its bar window: the whole window once, then only the new bars', () => {
  for (const b of ['trade', 'stale-data', 'risk-reject', 'kill-switch', 'continue-as-new']) {
    const sizes = (historyFromJSON(load(`deployment--${b}.json`)).events ?? [])
      .map((e) => e.markerRecordedEventAttributes)
      .filter((m) => m?.markerName === 'core_local_activity' && defaultPayloadConverter.fromPayload<{ activity_type: string }>(m.details!.data!.payloads![0]!).activity_type === 'loadCycleInputs')
      .map((m) => m!.details!.result!.payloads![0]!.data!.length);
    expect(sizes.length).toBeGreaterThan(3);
    expect(sizes[0]).toBeGreaterThan(10_000); // the first cycle: the whole window
    expect(Math.max(...sizes.slice(1))).toBeLessThan(3_000); // later cycles: the bars since the last one
  }
});

test('the end-of-day histories: the scheduler starts the liquidation as a child, which reduces, closes, verifies and lifts; a forged start does nothing', () => {
  for (const f of ['eod-scheduler--early-close', 'eod-liquidation--flat', 'eod-liquidation--forged']) expect(files).toContain(`${f}.json`);
  const scheduler = seen('eod-scheduler--early-close.json');
  expect(count(scheduler, 'startChildWorkflowExecutionInitiatedEventAttributes')).toBe(1);
  expect([...scheduler.activities]).toEqual(expect.arrayContaining(['liftDueReduceOnly', 'planEodDay', 'scheduleLiquidation', 'writeDailySummaries']));
  const flat = seen('eod-liquidation--flat.json');
  expect([...flat.activities]).toEqual(expect.arrayContaining(['openLiquidation', 'beginReduceOnly', 'cancelLiquidationOrders', 'inspectLiquidation', 'placeOrder', 'finishLiquidation', 'liftLiquidation']));
  expect(flat.localActivities.get('recordLiquidationStep')).toBeGreaterThanOrEqual(1);
  expect([...seen('eod-liquidation--forged.json').activities]).toEqual(['openLiquidation']);
});

test('the market-data histories show their branches: refreshes and a backfill job for a gap, a refused feed, a chunked backfill, the report', () => {
  for (const f of ['feed--refresh-gap', 'feed--refused', 'backfill--completed', 'report--completed']) expect(files).toContain(`market-data-${f}.json`);
  const feed = seen('market-data-feed--refresh-gap.json');
  expect([...feed.activities].sort()).toEqual(['openFeed', 'refreshMarketDataFeed']);
  expect(count(feed, 'activityTaskScheduledEventAttributes')).toBe(5); // open, three refreshes, the one that finds the feed gone
  expect(count(feed, 'startChildWorkflowExecutionInitiatedEventAttributes')).toBe(1);
  expect(count(feed, 'timerStartedEventAttributes')).toBe(4);
  expect([...seen('market-data-feed--refused.json').activities]).toEqual(['openFeed']);
  expect([...seen('market-data-backfill--completed.json').activities].sort()).toEqual(['backfillChunk', 'beginBackfill', 'endBackfill']);
  expect([...seen('market-data-report--completed.json').activities]).toEqual(['buildQualityReport']);
});

test('the batch-evaluation histories: the evaluator evaluates each close in one activity and wakes by update; a forged start only opens the group; a batch deployment acts on wakes, refuses forged ones, and applies commands against Postgres', async () => {
  for (const f of ['evaluator--closes', 'evaluator--forged', 'deployment--batch-acts', 'deployment--batch-commands']) expect(files).toContain(`${f}.json`);
  const evaluator = seen('evaluator--closes.json');
  expect([...evaluator.activities].sort()).toEqual(['evaluateBarClose', 'openEvaluationGroup']);
  expect(count(evaluator, 'activityTaskScheduledEventAttributes')).toBe(13); // the start check, then 12 closes: it continues as new
  expect(count(evaluator, 'workflowExecutionContinuedAsNewEventAttributes')).toBe(1);
  // Wakes are direct updates from one local activity per close (activities/batch-wakes.ts), not signal commands.
  expect(evaluator.localActivities.get('wakeDeployments')).toBeGreaterThan(0);
  expect(count(evaluator, 'signalExternalWorkflowExecutionInitiatedEventAttributes')).toBe(0);
  const forged = seen('evaluator--forged.json');
  expect([...forged.activities]).toEqual(['openEvaluationGroup']);
  expect(count(forged, 'workflowExecutionCompletedEventAttributes')).toBe(1);
  const acts = seen('deployment--batch-acts.json');
  // An order wake is one local activity: the action's read, which for one symbol's order and nothing else also places
  // it and writes its cycle row ending the action (activities/deployment-act.ts). The evaluator's update, written with
  // the task that took it: the task's 3 events, the update's accepted and completed, and that one marker, 6 events per
  // order wake (a signal's was 5, but the server wrote it in three steps: activities/batch-wakes.ts).
  type Acted = { loaded: { ok: boolean }; placed?: unknown };
  expect(acts.markers.some((m) => m.type === 'actOnDeploymentAction' && (m.result as Acted).placed !== undefined)).toBe(true);
  expect(acts.localActivities.get('placeDecidedOrderAndRecord')).toBeUndefined();
  expect(acts.localActivities.get('loadDeploymentAction')).toBeUndefined();
  // Each order wake's line names its order, from the line its wake carried: "cycle 16 · signal buy 1 RBA · sma-cross v1 · act on the close at …".
  const shown = await historySummaries({ fetchHistory: async () => historyFromJSON(load('deployment--batch-acts.json')) });
  const wakeLines = shown.filter((s) => s.event === 'local-activity' && ORDER_WAKE_LINE.test(s.summary));
  expect(wakeLines.length).toBe(acts.markers.filter((m) => m.type === 'actOnDeploymentAction' && (m.result as Acted).placed !== undefined).length);
  expect(shown.filter((s) => s.summary.startsWith('act on the close'))).toEqual([]);
  const perWake = orderWakeEvents('deployment--batch-acts.json');
  expect(perWake.length).toBeGreaterThanOrEqual(2);
  for (const w of perWake) expect(w).toEqual({ via: 'update', events: 6 });
  expect(acts.activities).not.toContain('placeOrder');
  expect(acts.localActivities.get('placeOrder')).toBeUndefined();
  expect(acts.localActivities.get('recordCycle')).toBeUndefined();
  expect(count(acts, 'workflowExecutionContinuedAsNewEventAttributes')).toBe(1);
  // The idle wait's hourly look is one timer a wake leaves running (acts.ts armRecheck): none is cancelled, and one
  // starts only when the run begins waiting or after the last one fired.
  expect(count(acts, 'timerCanceledEventAttributes')).toBe(0);
  expect(count(acts, 'timerStartedEventAttributes')).toBeLessThanOrEqual(count(acts, 'timerFiredEventAttributes') + 1);
  expect(count(acts, 'timerStartedEventAttributes')).toBeGreaterThan(0);
  const loaded = acts.markers.filter((m) => m.type === 'actOnDeploymentAction').map((m) => (m.result as Acted).loaded.ok);
  expect(loaded).toEqual(expect.arrayContaining([true, false])); // the evaluator's actions, and the forged id refused
  // Every action read is ended: with its order by the read itself, by its last cycle row (written with the order, or
  // by recordCycle, in the same local activity) or, with no symbol to act on, by finishDeploymentAction; never read
  // again before that.
  let open = false;
  let ended = 0;
  for (const m of acts.markers) {
    if (m.type === 'actOnDeploymentAction' && (m.result as Acted).loaded.ok) {
      expect(open).toBe(false);
      if ((m.result as Acted).placed !== undefined) ended++;
      else open = true;
    } else if (open && (m.type === 'placeDecidedOrderAndRecord' || m.type === 'recordCycle' || m.type === 'finishDeploymentAction')) {
      open = false;
      ended++;
    }
  }
  expect(ended).toBe(loaded.filter(Boolean).length);
  expect(acts.localActivities.get('loadRecordedCommands')).toBeGreaterThan(0); // the forged look's read
  const commands = seen('deployment--batch-commands.json');
  expect(commands.localActivities.get('applyCommand')).toBe(5); // pause, resume, breaker reset, flatten, stop
  for (const t of ['loadBatchRiskState', 'resetBatchBreaker', 'claimDeploymentCycle']) expect(commands.localActivities.get(t)).toBe(1);
  expect(count(commands, 'workflowExecutionCompletedEventAttributes')).toBe(1);
  for (const h of [evaluator, forged, acts, commands]) expect(count(h, 'workflowTaskFailedEventAttributes')).toBe(0);
});

test.each(files)('replays %s', async (file) => {
  const codePath = path.join(testStack().WORKFLOW_BUNDLE_DIR, `${queueOf(file)}.js`);
  await Worker.runReplayHistory({ workflowBundle: { codePath } }, load(file));
});

test.each([
  ['backtest-changed', ['backtest--completed.json', 'backtest--cancelled.json']],
  ['stress-scan-changed', ['stress-scan--completed.json', 'stress-scan--continue-as-new.json']],
  ['evaluator-changed', ['evaluator--closes.json']],
])('a changed workflow (%s) fails replay of the recorded histories', async (changed, histories) => {
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve(`./changed/${changed}`), logger: quiet });
  for (const file of histories) {
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, load(file))).rejects.toMatchObject({ name: 'DeterminismViolationError' });
  }
});
