import * as wf from '@temporalio/workflow';
import type { createBatchEvaluationActivities } from '../../activities/batch-evaluation';
import { dataTimeAt, wallMsUntil } from '../../domain/marketdata/clock';
import { nextEvaluatedClose, type EvaluationTiming } from '../../domain/deployment/batch';
import { batchEvaluation, dbWrite } from '../activity-options';
import { workflowNow } from '../time';
import { deploymentActSignal, deploymentLookSignal, evaluatorStateQuery, type EvaluatorInput, type EvaluatorResult, type EvaluatorState } from './messages';

type Activities = ReturnType<typeof createBatchEvaluationActivities>;
const { openEvaluationGroup } = wf.proxyActivities<Activities>(dbWrite);
const { evaluateBarClose } = wf.proxyActivities<Activities>(batchEvaluation);

const DEFAULT_CLOSES_PER_RUN = 200;
/** A wake costs two history events: continue-as-new well before the history grows large. */
const MAX_HISTORY_EVENTS = 8_000;
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
  const state: EvaluatorState = { groupKey: input.groupKey, closes: input.closes ?? 0, nextClose: null, waitingOn: 'opening the group', last: null, failures: 0 };
  wf.setHandler(evaluatorStateQuery, () => state);
  const opened = await openEvaluationGroup.executeWithOptions({ summary: `open evaluation group ${input.groupKey}` }, [{ groupKey: input.groupKey, workflowId: info.workflowId, runId: info.runId }]);
  if (!opened.ok) return { outcome: 'refused', reason: opened.reason };
  const t: EvaluationTiming = opened.timing;
  let lastClose = input.lastClose ?? 0;
  let thisRun = 0;
  for (;;) {
    if (thisRun >= (input.closesPerRun ?? DEFAULT_CLOSES_PER_RUN) || wf.workflowInfo().historyLength > MAX_HISTORY_EVENTS || wf.workflowInfo().continueAsNewSuggested) {
      return wf.continueAsNew<typeof evaluatorWorkflow>({ ...input, lastClose, closes: state.closes });
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
      r = await evaluateBarClose.executeWithOptions({ summary: `evaluate close ${iso(next)}` }, [{ groupKey: input.groupKey, barClose: next, nowMs: dataTimeAt(t.clock, workflowNow()) }]);
    } catch (err) {
      // Every attempt failed (Postgres down for minutes): this close is skipped for the group; the next one evaluates everyone.
      if (wf.isCancellation(err)) throw err;
      wf.log.warn('batch evaluation failed; the next close evaluates the group again', { groupKey: input.groupKey, barClose: next, error: (err as Error).message });
      state.failures++;
      continue;
    }
    state.closes++;
    state.waitingOn = `waking ${r.wake.length} deployment(s) to act`;
    // A deployment that ended cannot be signalled: its action stays pending and changes nothing.
    await Promise.all([
      ...r.wake.map((w) => wf.getExternalWorkflowHandle(w.workflowId).signal(deploymentActSignal, { actionId: w.actionId }).catch(() => undefined)),
      ...(r.look ?? []).map((workflowId) => wf.getExternalWorkflowHandle(workflowId).signal(deploymentLookSignal).catch(() => undefined)),
    ]);
    state.last = { barClose: next, evaluated: r.evaluated, acting: r.acting, unreadable: r.unreadable, woken: r.wake.length, looked: r.look?.length ?? 0, ms: r.ms };
  }
}
