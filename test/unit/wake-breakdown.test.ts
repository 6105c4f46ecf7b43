import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import raw from '../replay/histories/deployment--batch-acts.json';
import { actWakesOfHistory, orderWakesOfHistory } from '../../harness/history-events';

// A recorded batch deployment: forged and malformed deploymentAct signals and updates, then its evaluator's wakes (updates).
const events = historyFromJSON(raw).events ?? [];
const closeOf = (id: string) => Number(id.slice(id.lastIndexOf(':') + 1));
const evaluatorWakes = actWakesOfHistory(events).filter((w) => w.via === 'update' && closeOf(w.actionId) > 0);
const [first, second] = evaluatorWakes.map((w) => closeOf(w.actionId));

describe('orderWakesOfHistory (the runtime bench\'s batch wake breakdown)', () => {
  it('finds every deploymentAct wake, as update or signal, with the task that took it', () => {
    const all = actWakesOfHistory(events);
    expect(all.filter((w) => w.via === 'signal').length).toBe(2); // the forged signal and the malformed one
    expect(all.filter((w) => w.via === 'update').length).toBe(evaluatorWakes.length + 2); // and the two sent by hand
    expect(evaluatorWakes.length).toBeGreaterThanOrEqual(2);
    // an update's task is written when it completes: scheduled, started, completed, then its accepted and completed events and the markers
    for (const w of evaluatorWakes) expect(w.events).toBe(3 + 2 + w.markers.length);
  });

  it('reads each wake of the asked closes: arrival, the task that took it and its local activities in order', () => {
    const wakes = orderWakesOfHistory(events, [first!, second!]);
    expect(wakes.map((w) => w.barClose)).toEqual([first, second]);
    for (const w of wakes) {
      expect(w.via).toBe('update');
      expect(w.steps.map((s) => s.type)).toEqual(['actOnDeploymentAction']); // the read that also placed the order and wrote its row
      expect(w.taskStartedMs).toBeGreaterThanOrEqual(w.arrivedMs);
      expect(w.taskCompletedMs).toBeGreaterThanOrEqual(w.taskStartedMs);
      for (const s of w.steps) expect(s.ms).toBeGreaterThanOrEqual(0);
      // the steps run inside the task: together no longer than it
      expect(w.steps.reduce((a, s) => a + s.ms, 0)).toBeLessThanOrEqual(w.taskCompletedMs - w.taskStartedMs + 1);
    }
    // an update's arrival is the scheduling of the task that took it, as recorded
    const i = raw.events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes && Buffer.from(e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.args.payloads[0]!.data, 'base64').toString().includes(`:${first}`));
    expect(raw.events[i - 3]!.eventType).toBe('EVENT_TYPE_WORKFLOW_TASK_SCHEDULED');
    expect(wakes[0]!.arrivedMs).toBe(Date.parse(raw.events[i - 3]!.eventTime));
  });

  it('skips forged ids and closes not asked for', () => {
    expect(orderWakesOfHistory(events, [second!]).map((w) => w.barClose)).toEqual([second]);
    expect(orderWakesOfHistory(events, [])).toEqual([]);
  });
});
