/**
 * Where a batch-evaluated order's time goes, from bar close to the order's local activity done, read from workflow
 * histories: the evaluator's (its evaluateBarClose activity and its wake local activity) and the woken deployments'
 * (the deploymentAct update, the workflow task that took it and that task's local activities). Event times are the
 * Temporal server's, local activity completions the worker's, on one host clock; each figure is from the bar close's
 * wall time, except the per-step ones, which are the step's own length.
 */
import type { Client } from '@temporalio/client';
import { decodePayload, eventMs, localStep, orderWakesOfHistory, type HistoryEvent } from '../../harness/history-events';
import { summarize, type LatencySummary } from './percentiles';


export interface WakeBreakdown {
  closes: number;
  wakes: number;
  /** from the close: the evaluator's evaluateBarClose picked up by the worker (its timer, a workflow task and the activity task's dispatch before it) */
  evaluationStartedMs: LatencySummary;
  /** from the close: the evaluator's evaluateBarClose completed, and its wake local activity done (every wake taken) */
  evaluatedMs: LatencySummary;
  wakesSentMs: LatencySummary;
  /** from the close: the deployment's deploymentAct wake taken by the server (an update's task scheduled, or a signal's event) */
  arrivedMs: LatencySummary;
  /** wakes that came as signals (their update not taken within its wait, or failed) */
  bySignal: number;
  /** the wake's arrival to the start of the workflow task that took it (queued at the server and the worker) */
  taskQueuedMs: LatencySummary;
  /** per step of the woken task: its length (a local activity from the end of the step before it) */
  steps: Record<string, LatencySummary>;
  /** from the close: the woken task completed */
  taskCompletedMs: LatencySummary;
}


async function histories(client: Client, ids: readonly string[]): Promise<HistoryEvent[][]> {
  const out: HistoryEvent[][] = [];
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) out.push((await client.workflow.getHandle(id).fetchHistory()).events ?? []);
    }),
  );
  return out;
}

/** The evaluator's close times: evaluateBarClose started and completed, and the wakes' local activity done, by bar close (data ms). */
function evaluatorTimes(events: readonly HistoryEvent[]): Map<number, { started?: number; evaluated?: number; woken?: number }> {
  const byClose = new Map<number, { started?: number; evaluated?: number; woken?: number }>();
  const scheduled = new Map<string, number>();
  const started = new Map<string, number>();
  let lastClose: number | undefined;
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === 'evaluateBarClose') {
      const close = decodePayload<{ barClose: number }>(s.input?.payloads?.[0])?.barClose;
      if (close !== undefined) scheduled.set(String(e.eventId), close);
    }
    const start = e.activityTaskStartedEventAttributes;
    if (start && scheduled.has(String(start.scheduledEventId))) started.set(String(start.scheduledEventId), eventMs(e));
    const doneOf = e.activityTaskCompletedEventAttributes ? String(e.activityTaskCompletedEventAttributes.scheduledEventId) : undefined;
    const close = doneOf !== undefined ? scheduled.get(doneOf) : undefined;
    if (doneOf !== undefined && close !== undefined) {
      byClose.set(close, { started: started.get(doneOf), evaluated: eventMs(e) });
      lastClose = close;
    }
    const step = localStep(e);
    if (step?.type === 'wakeDeployments' && lastClose !== undefined) byClose.get(lastClose)!.woken = step.endedMs;
  }
  return byClose;
}

/** Order wakes of `closes` in the deployments' histories, with the evaluator's times for each close. */
export async function wakeBreakdown(client: Client, evaluatorId: string, workflowIds: readonly string[], closes: readonly number[], wallOf: (barCloseMs: number) => number): Promise<WakeBreakdown> {
  const [evaluator] = await histories(client, [evaluatorId]);
  const times = evaluatorTimes(evaluator ?? []);
  const acc = { started: [] as number[], evaluated: [] as number[], woken: [] as number[], arrived: [] as number[], queued: [] as number[], completed: [] as number[] };
  const steps: Record<string, number[]> = {};
  let bySignal = 0;
  for (const close of closes) {
    const t = times.get(close);
    if (t?.started !== undefined) acc.started.push(t.started - wallOf(close));
    if (t?.evaluated !== undefined) acc.evaluated.push(t.evaluated - wallOf(close));
    if (t?.woken !== undefined) acc.woken.push(t.woken - wallOf(close));
  }
  for (const events of await histories(client, workflowIds)) {
    for (const w of orderWakesOfHistory(events, closes)) {
      const wall = wallOf(w.barClose);
      acc.arrived.push(w.arrivedMs - wall);
      if (w.via === 'signal') bySignal++;
      acc.queued.push(w.taskStartedMs - w.arrivedMs);
      acc.completed.push(w.taskCompletedMs - wall);
      for (const s of w.steps) (steps[s.type] ??= []).push(s.ms);
    }
  }
  return {
    closes: closes.length,
    wakes: acc.arrived.length,
    evaluationStartedMs: summarize(acc.started),
    evaluatedMs: summarize(acc.evaluated),
    wakesSentMs: summarize(acc.woken),
    arrivedMs: summarize(acc.arrived),
    bySignal,
    taskQueuedMs: summarize(acc.queued),
    steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, summarize(v)])),
    taskCompletedMs: summarize(acc.completed),
  };
}
