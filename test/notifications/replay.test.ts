import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { testStack } from '../helpers/stack';

/**
 * The dispatcher's committed history (recorded by dispatcher.test.ts with RECORD_NOTIFICATION_HISTORY=1: signals
 * during rounds, cancelled timers, retries, continue-as-new) must replay against the current io bundle.
 */
const dir = path.join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (file: string): unknown => JSON.parse(readFileSync(path.join(dir, file), 'utf8'));

test('the recorded history covers signals, cancelled timers and continue-as-new', () => {
  expect(files).toContain('notification-dispatch--continue-as-new.json');
  const raw = load('notification-dispatch--continue-as-new.json') as { events: Array<{ eventType: string }> };
  expect(historyFromJSON(raw).events?.length).toBe(raw.events.length); // well-formed
  const types = new Set(raw.events.map((e) => e.eventType));
  for (const t of ['EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED', 'EVENT_TYPE_TIMER_CANCELED', 'EVENT_TYPE_TIMER_FIRED', 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW']) {
    expect({ t, present: types.has(t) }).toEqual({ t, present: true });
  }
});

test.each(files)('replays %s', async (file) => {
  await Worker.runReplayHistory({ workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') } }, load(file));
});
