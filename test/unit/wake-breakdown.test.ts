import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import raw from '../replay/histories/deployment--batch-acts.json';
import { orderWakesOfHistory } from '../../harness/history-events';

// A recorded batch deployment: two forged/malformed deploymentAct signals, then the evaluator's wakes for two closes.
const events = historyFromJSON(raw).events ?? [];
const [first, second] = [1796658600000, 1796661600000];

describe('orderWakesOfHistory (the runtime bench\'s batch wake breakdown)', () => {
  it('reads each wake of the asked closes: signal, the task it caused and its local activities in order', () => {
    const wakes = orderWakesOfHistory(events, [first, second]);
    expect(wakes.map((w) => w.barClose)).toEqual([first, second]);
    for (const w of wakes) {
      expect(w.steps.map((s) => s.type)).toEqual(['actOnDeploymentAction']); // the read that also placed the order and wrote its row
      expect(w.taskStartedMs).toBeGreaterThanOrEqual(w.signaledMs);
      expect(w.taskCompletedMs).toBeGreaterThanOrEqual(w.taskStartedMs);
      for (const s of w.steps) expect(s.ms).toBeGreaterThanOrEqual(0);
      // the steps run inside the task: together no longer than it
      expect(w.steps.reduce((a, s) => a + s.ms, 0)).toBeLessThanOrEqual(w.taskCompletedMs - w.taskStartedMs + 1);
    }
    // the first wake's time is its signal event's, as recorded
    const input = (e: (typeof raw.events)[number]) => Buffer.from(e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]?.data ?? '', 'base64').toString();
    const signal = raw.events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'deploymentAct' && input(e).includes(`:${first}`));
    expect(wakes[0]!.signaledMs).toBe(Date.parse(signal!.eventTime));
  });

  it('skips forged ids and closes not asked for', () => {
    expect(orderWakesOfHistory(events, [second]).map((w) => w.barClose)).toEqual([second]);
    expect(orderWakesOfHistory(events, [])).toEqual([]);
  });
});
