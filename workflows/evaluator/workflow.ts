import * as wf from '@temporalio/workflow';
import type { createBatchEvaluationActivities } from '../../activities/batch-evaluation';
import type { createBatchWakeActivities } from '../../activities/batch-wakes';
import { dataTimeAt, wallMsUntil } from '../../domain/marketdata/clock';
import { nextEvaluatedClose, type EvaluationTiming } from '../../domain/deployment/batch';
import { batchEvaluation, dbWrite, localWakes } from '../activity-options';
import { workflowNow } from '../time';
import { evaluatorStateQuery, type EvaluatorInput, type EvaluatorResult, type EvaluatorState } from './messages';

type Activities = ReturnType<typeof createBatchEvaluationActivities>;
const { openEvaluationGroup } = wf.proxyActivities<Activities>(dbWrite);
const { evaluateBarClose } = wf.proxyActivities<Activities>(batchEvaluation);
const { wakeDeployments } = wf.proxyLocalActivities<ReturnType<typeof createBatchWakeActivities>>(localWakes);

const DEFAULT_CLOSES_PER_RUN = 200;
/** A close costs a handful of history events: continue-as-new well before the history grows large. */
const MAX_HISTORY_EVENTS = 8_000;
/** A whole number >= 0 from the input, else `fallback`. */
const count = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : fallback);
const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');

/**
 * The batch evaluator of one group of deployments (workflow id `evaluator-<group key>`, started when the group's first
 * deployment is created, and at platform start-up): at each bar close of the group's calendar plus its settle delay
 * (data time: a replay clock's), evaluate every deployment of the group in one activity, then wake only those that
 * must act, each with the id of its stored action. Actions whose wake was lost are woken again at the next close.
 * It runs only for a group the platform recorded under this workflow id (a hand-started run is refused and audited).
 */
export async function evaluatorWorkflow(input: EvaluatorInput): Promise<EvaluatorResult> {
  const info = wf.workflowInfo();
  // Nothing in the input is trusted (it may be started by hand, under the real id while the evaluator is down): the
  // key must be the recorded group's, and the numbers only ever make it evaluate sooner and keep its history small.
  const given: Partial<EvaluatorInput> = typeof input === 'object' && input !== null ? input : {};
  const groupKey = String(given.groupKey).slice(0, 300);
  const state: EvaluatorState = { groupKey, closes: count(given.closes, 0), nextClose: null, waitingOn: 'opening the group', last: null, failures: 0 };
  wf.setHandler(evaluatorStateQuery, () => state);
  const opened = await openEvaluationGroup.executeWithOptions({ summary: `open evaluation group ${groupKey}` }, [{ groupKey, workflowId: info.workflowId, runId: info.runId }]);
  if (!opened.ok) return { outcome: 'refused', reason: opened.reason };
  const t: EvaluationTiming = opened.timing;
  const closesPerRun = Math.min(Math.max(count(given.closesPerRun, DEFAULT_CLOSES_PER_RUN), 1), DEFAULT_CLOSES_PER_RUN);
  // A last close in the future would hold every close until then: never later than now.
  let lastClose = Math.min(count(given.lastClose, 0), dataTimeAt(t.clock, workflowNow()));
  let thisRun = 0;
  for (;;) {
    if (thisRun >= closesPerRun || wf.workflowInfo().historyLength > MAX_HISTORY_EVENTS || wf.workflowInfo().continueAsNewSuggested) {
      return wf.continueAsNew<typeof evaluatorWorkflow>({ groupKey, closesPerRun, lastClose, closes: state.closes });
    }
    const next = nextEvaluatedClose(t, lastClose, dataTimeAt(t.clock, workflowNow()));
    state.nextClose = next;
    const waitMs = wallMsUntil(t.clock, workflowNow(), next + t.settleDelayMs);
    if (waitMs > 0) {
      state.waitingOn = `the ${t.timeframe} bar closing at ${iso(next)}`;
      await wf.sleep(waitMs, { summary: `bar close ${iso(next)} + ${t.settleDelayMs} ms settle` });
    }
    state.waitingOn = `evaluating the bar closing at ${iso(next)}`;
    lastClose = next;
    thisRun++;
    let r: Awaited<ReturnType<Activities['evaluateBarClose']>>;
    try {
      r = await evaluateBarClose.executeWithOptions({ summary: `evaluate close ${iso(next)}` }, [{ groupKey, barClose: next, nowMs: dataTimeAt(t.clock, workflowNow()) }]);
    } catch (err) {
      // Every attempt failed (Postgres down for minutes): this close is skipped for the group; the next one evaluates everyone.
      if (wf.isCancellation(err)) throw err;
      wf.log.warn('batch evaluation failed; the next close evaluates the group again', { groupKey, barClose: next, error: (err as Error).message });
      state.failures++;
      continue;
    }
    state.closes++;
    state.waitingOn = `waking ${r.wake.length} deployment(s) to act`;
    const look = r.look ?? [];
    if (r.wake.length + look.length > 0) {
      await wakeDeployments.executeWithOptions({ summary: `wake ${r.wake.length} deployment(s) to act${look.length ? `, ${look.length} to look for commands` : ''}` }, [{ wake: r.wake, look }]).catch((err: unknown) => {
        // The server unreachable for every attempt: the actions stay pending and are woken again at the next close.
        if (wf.isCancellation(err)) throw err;
        wf.log.warn('waking deployments failed; the next close wakes them again', { groupKey, barClose: next, error: (err as Error).message });
      });
    }
    state.last = { barClose: next, evaluated: r.evaluated, acting: r.acting, unreadable: r.unreadable, woken: r.wake.length, looked: r.look?.length ?? 0, ms: r.ms };
  }
}
