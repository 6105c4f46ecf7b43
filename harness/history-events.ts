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

/** One order wake of a deployment: its signal, the task that handled it and that task's local activities. */
export interface OrderWake {
  barClose: number;
  signaledMs: number;
  taskStartedMs: number;
  taskCompletedMs: number;
  /** local activities of the task in order, each with its length (from the end of the step before it, or the task's start) */
  steps: Array<{ type: string; ms: number }>;
}

/** The deploymentAct wakes for `closes` (data ms) in one deployment's history. */
export function orderWakesOfHistory(events: readonly HistoryEvent[], closes: readonly number[]): OrderWake[] {
  const wakes: OrderWake[] = [];
  for (const [i, e] of events.entries()) {
    const sig = e.workflowExecutionSignaledEventAttributes;
    if (sig?.signalName !== 'deploymentAct') continue;
    const actionId = decodePayload<{ actionId?: string }>(sig.input?.payloads?.[0])?.actionId ?? '';
    const barClose = Number(actionId.slice(actionId.lastIndexOf(':') + 1));
    if (!closes.includes(barClose)) continue;
    const rest = events.slice(i + 1);
    const started = rest.find((x) => x.workflowTaskStartedEventAttributes);
    const completedAt = rest.findIndex((x) => x.workflowTaskCompletedEventAttributes);
    if (!started || completedAt < 0) continue;
    const steps: OrderWake['steps'] = [];
    let previous = eventMs(started);
    // the markers the task recorded follow its completion event
    for (const m of rest.slice(completedAt + 1)) {
      const step = localStep(m);
      if (!step) break;
      steps.push({ type: step.type, ms: step.endedMs! - previous });
      previous = step.endedMs!;
    }
    wakes.push({ barClose, signaledMs: eventMs(e), taskStartedMs: eventMs(started), taskCompletedMs: eventMs(rest[completedAt]!), steps });
  }
  return wakes;
}
