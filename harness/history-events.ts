/**
 * Reading workflow histories for the benchmarks' breakdowns: event times, the local activities the SDK core records
 * as markers, and a batch deployment's order wakes.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';

export type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

/** The marker the SDK core records for each local activity. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

export interface LocalStep {
  type: string;
  local: true;
  scheduledMs: number;
  endedMs: number;
  /** bytes of the result it put in history */
  payloadBytes: number;
}

const payloadBytes = (payloads: ReadonlyArray<{ data?: Uint8Array | null }> | null | undefined) => (payloads ?? []).reduce((s, p) => s + (p.data?.length ?? 0), 0);
const protoTsMs = (t: { seconds: number; nanos: number } | null | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);
export const decodePayload = <T>(p: unknown): T | undefined => (p ? defaultPayloadConverter.fromPayload<T>(p as Payload) : undefined);

/** An event's time: histories fetched from the server carry Long seconds, histories read from JSON plain numbers. */
export function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  return typeof t?.seconds === 'number' ? t.seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : tsToMs(t);
}

/**
 * A local activity from its marker: type and completion time. The marker's original_schedule_time is not when the
 * workflow asked for it (it comes out later than complete_time), so a local activity is taken to start when the
 * step before it in the same workflow task ended (the cycle's steps run one after another): see startLocalSteps.
 */
export function localStep(e: HistoryEvent): LocalStep | undefined {
  const m = e.markerRecordedEventAttributes;
  const data = m?.details?.data?.payloads?.[0];
  if (m?.markerName !== LOCAL_ACTIVITY_MARKER || !data) return undefined;
  const d = defaultPayloadConverter.fromPayload<{ activity_type?: string; complete_time?: { seconds: number; nanos: number } }>(data as Payload);
  const endedMs = protoTsMs(d.complete_time);
  if (!d.activity_type || endedMs === undefined) return undefined;
  return { type: d.activity_type, local: true, scheduledMs: endedMs, endedMs, payloadBytes: payloadBytes(m.details?.result?.payloads) };
}

/**
 * A `deploymentAct` wake in a batch deployment's history and the workflow task that took it. The evaluator's wakes
 * are updates: the server writes the task that took one (scheduled, started, completed) when it completes, followed
 * by the update's accepted and completed events and the task's local-activity markers. A wake sent as a signal is
 * its signal event, then its task's events and markers. `own`: the task took this wake alone (the next one the
 * history shows after it, nothing else in between).
 */
export interface ActWakeEvents {
  via: 'update' | 'signal';
  actionId: string;
  /** when the server took the wake: the signal's event, or the scheduling of the update's task */
  arrivedMs: number;
  taskStartedMs: number;
  taskCompletedMs: number;
  own: boolean;
  /** the wake's events with its task's: signal or update events, the task's three, and the markers */
  events: number;
  markers: HistoryEvent[];
}

const lastBefore = (events: readonly HistoryEvent[], end: number, is: (e: HistoryEvent) => unknown) => {
  for (let j = end - 1; j >= 0; j--) if (is(events[j]!)) return j;
  return -1;
};
const isUpdateEvent = (e: HistoryEvent) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes;

export function actWakesOfHistory(events: readonly HistoryEvent[]): ActWakeEvents[] {
  const wakes: ActWakeEvents[] = [];
  for (const [i, e] of events.entries()) {
    const sig = e.workflowExecutionSignaledEventAttributes;
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (sig?.signalName !== 'deploymentAct' && accepted?.name !== 'deploymentAct') continue;
    const payload = (sig ? sig.input : accepted?.args)?.payloads?.[0];
    const actionId = decodePayload<{ actionId?: unknown }>(payload)?.actionId;
    let completed: number;
    let own: boolean;
    if (sig) {
      completed = events.findIndex((x, j) => j > i && x.workflowTaskCompletedEventAttributes);
      own = events[i + 1]?.workflowTaskScheduledEventAttributes !== undefined;
    } else {
      completed = lastBefore(events, i, (x) => x.workflowTaskCompletedEventAttributes);
      own = events.slice(completed + 1, i).every((x) => x.workflowExecutionUpdateCompletedEventAttributes);
    }
    const started = lastBefore(events, completed, (x) => x.workflowTaskStartedEventAttributes);
    const scheduled = lastBefore(events, started, (x) => x.workflowTaskScheduledEventAttributes);
    if (completed < 0 || started < 0 || scheduled < 0) continue;
    // the markers the task recorded follow its completion event, among the updates' events
    const markers: HistoryEvent[] = [];
    let last = completed;
    for (let j = completed + 1; j < events.length && (isUpdateEvent(events[j]!) || localStep(events[j]!)); j++) {
      if (!isUpdateEvent(events[j]!)) markers.push(events[j]!);
      last = j;
    }
    const ownUpdates = sig ? 0 : events.slice(completed + 1, last + 1).filter(isUpdateEvent).length;
    wakes.push({
      via: sig ? 'signal' : 'update', actionId: typeof actionId === 'string' ? actionId : '', arrivedMs: eventMs(sig ? e : events[scheduled]!),
      taskStartedMs: eventMs(events[started]!), taskCompletedMs: eventMs(events[completed]!), own,
      events: (sig ? 1 : ownUpdates) + 3 + markers.length, markers,
    });
  }
  return wakes;
}

/** One order wake of a deployment: its arrival, the task that took it and that task's local activities. */
export interface OrderWake {
  barClose: number;
  via: ActWakeEvents['via'];
  arrivedMs: number;
  taskStartedMs: number;
  taskCompletedMs: number;
  /** local activities of the task in order, each with its length (from the end of the step before it, or the task's start) */
  steps: Array<{ type: string; ms: number }>;
}

/** The deploymentAct wakes for `closes` (data ms) in one deployment's history. */
export function orderWakesOfHistory(events: readonly HistoryEvent[], closes: readonly number[]): OrderWake[] {
  const wakes: OrderWake[] = [];
  for (const w of actWakesOfHistory(events)) {
    const barClose = Number(w.actionId.slice(w.actionId.lastIndexOf(':') + 1));
    if (!closes.includes(barClose)) continue;
    const steps: OrderWake['steps'] = [];
    let previous = w.taskStartedMs;
    for (const m of w.markers) {
      const step = localStep(m)!;
      steps.push({ type: step.type, ms: step.endedMs - previous });
      previous = step.endedMs;
    }
    wakes.push({ barClose, via: w.via, arrivedMs: w.arrivedMs, taskStartedMs: w.taskStartedMs, taskCompletedMs: w.taskCompletedMs, steps });
  }
  return wakes;
}
