/**
 * Where a deployment cycle's time goes, read from workflow histories (event times are the Temporal server's).
 * A cycle is the stretch from TimerFired (the bar close plus the settle delay) to the next TimerStarted. It is a
 * chain: workflow task (queued, then run by the worker) -> activity (queued, then run) -> workflow task -> ...;
 * summing each kind over the chain up to recordCycle's completion says whether cycles wait for workflow-task
 * slots, for activity slots, or for the activities' own work (Postgres, Redis, the broker).
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { summarize, type LatencySummary } from './percentiles';

type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

interface ActivityTiming {
  type: string;
  scheduledMs: number;
  startedMs?: number;
  endedMs?: number;
  /** bytes of the activity's input and result payloads (they travel through the server and sit in history) */
  payloadBytes: number;
  /** recordCycle's bar close (data time) */
  barCloseMs?: number;
}

interface CycleTiming {
  firedMs: number;
  activities: ActivityTiming[];
  workflowTasks: Array<{ scheduledMs: number; startedMs?: number; completedMs?: number }>;
}

export interface CycleBreakdown {
  deploymentsSampled: number;
  cycles: number;
  cyclesWithOrder: number;
  /** per cycle, from the bar close (wall) to TimerFired: timer precision plus the settle delay */
  timerLagMs: LatencySummary;
  /** per cycle, TimerFired to recordCycle completed */
  firedToRecordedMs: LatencySummary;
  /** per cycle, summed over the chain up to recordCycle: workflow tasks waiting for a worker, and being run */
  workflowTaskQueuedMs: LatencySummary;
  workflowTaskRunMs: LatencySummary;
  /** per cycle, summed likewise: activities waiting for a worker slot, and running */
  activityQueuedMs: LatencySummary;
  activityRunMs: LatencySummary;
  /** per cycle: what the four sums above do not explain (server persistence between steps) */
  otherMs: LatencySummary;
  workflowTasksPerCycle: number;
  activitiesPerCycle: number;
  /** per activity type, per execution */
  byActivity: Record<string, { count: number; queuedMs: LatencySummary; runMs: LatencySummary; meanPayloadBytes: number }>;
}

const timeOf = (e: HistoryEvent) => tsToMs(e.eventTime);
const payloadBytes = (payloads: ReadonlyArray<{ data?: Uint8Array | null }> | null | undefined) => (payloads ?? []).reduce((s, p) => s + (p.data?.length ?? 0), 0);

/** Splits one history into cycles (only those ended by a recordCycle). */
export function cyclesOfHistory(events: readonly HistoryEvent[]): CycleTiming[] {
  const cycles: CycleTiming[] = [];
  let current: CycleTiming | undefined;
  const activities = new Map<string, ActivityTiming>();
  const tasks = new Map<string, CycleTiming['workflowTasks'][number]>();
  for (const e of events) {
    const id = String(e.eventId);
    if (e.timerFiredEventAttributes) {
      current = { firedMs: timeOf(e), activities: [], workflowTasks: [] };
      cycles.push(current);
    } else if (e.timerStartedEventAttributes) {
      current = undefined;
    }
    if (!current) continue;
    if (e.workflowTaskScheduledEventAttributes) {
      const t = { scheduledMs: timeOf(e) };
      tasks.set(id, t);
      current.workflowTasks.push(t);
    } else if (e.workflowTaskStartedEventAttributes) {
      const t = tasks.get(String(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (t) t.startedMs = timeOf(e);
    } else if (e.workflowTaskCompletedEventAttributes) {
      const t = tasks.get(String(e.workflowTaskCompletedEventAttributes.scheduledEventId));
      if (t) t.completedMs = timeOf(e);
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      const timing: ActivityTiming = { type: a.activityType?.name ?? '?', scheduledMs: timeOf(e), payloadBytes: payloadBytes(a.input?.payloads) };
      if (timing.type === 'recordCycle') {
        const arg = defaultPayloadConverter.fromPayload<{ record?: { barClose?: number } }>(a.input!.payloads![0] as Payload);
        timing.barCloseMs = arg.record?.barClose;
      }
      activities.set(id, timing);
      current.activities.push(timing);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = activities.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) a.startedMs = timeOf(e);
    } else {
      const ended = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      const a = ended ? activities.get(String(ended.scheduledEventId)) : undefined;
      if (a) {
        a.endedMs = timeOf(e);
        a.payloadBytes += payloadBytes(e.activityTaskCompletedEventAttributes?.result?.payloads);
      }
    }
  }
  return cycles.filter((c) => c.activities.some((a) => a.type === 'recordCycle' && a.endedMs !== undefined));
}

/**
 * Reads the histories of `workflowIds` (a few at a time) and sums up their cycles whose bar close lies in
 * [fromMs, toMs] (data time); `wallOf` maps a bar close to its wall time.
 */
export async function cycleBreakdown(
  client: Client,
  workflowIds: readonly string[],
  fromMs: number,
  toMs: number,
  wallOf: (barCloseMs: number) => number,
): Promise<CycleBreakdown> {
  const cycles: CycleTiming[] = [];
  const queue = [...workflowIds];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const history = await client.workflow.getHandle(id).fetchHistory();
        for (const c of cyclesOfHistory(history.events ?? [])) {
          const close = c.activities.find((a) => a.type === 'recordCycle')!.barCloseMs;
          if (close !== undefined && close >= fromMs && close <= toMs) cycles.push(c);
        }
      }
    }),
  );

  const acc = { lag: [] as number[], total: [] as number[], wq: [] as number[], wr: [] as number[], aq: [] as number[], ar: [] as number[], other: [] as number[] };
  const byActivity: Record<string, { queued: number[]; run: number[]; bytes: number }> = {};
  let tasksSeen = 0;
  let activitiesSeen = 0;
  for (const c of cycles) {
    const record = c.activities.find((a) => a.type === 'recordCycle')!;
    const end = record.endedMs!;
    const upToRecord = c.activities.slice(0, c.activities.indexOf(record) + 1);
    const tasks = c.workflowTasks.filter((t) => t.scheduledMs < end && t.startedMs !== undefined && t.completedMs !== undefined);
    const wq = tasks.reduce((s, t) => s + (t.startedMs! - t.scheduledMs), 0);
    const wr = tasks.reduce((s, t) => s + (t.completedMs! - t.startedMs!), 0);
    const aq = upToRecord.reduce((s, a) => s + ((a.startedMs ?? a.scheduledMs) - a.scheduledMs), 0);
    const ar = upToRecord.reduce((s, a) => s + ((a.endedMs ?? a.scheduledMs) - (a.startedMs ?? a.scheduledMs)), 0);
    const total = end - c.firedMs;
    acc.lag.push(c.firedMs - wallOf(record.barCloseMs!));
    acc.total.push(total);
    acc.wq.push(wq);
    acc.wr.push(wr);
    acc.aq.push(aq);
    acc.ar.push(ar);
    acc.other.push(total - wq - wr - aq - ar);
    tasksSeen += c.workflowTasks.length;
    activitiesSeen += c.activities.length;
    for (const a of c.activities) {
      if (a.startedMs === undefined || a.endedMs === undefined) continue;
      const b = (byActivity[a.type] ??= { queued: [], run: [], bytes: 0 });
      b.queued.push(a.startedMs - a.scheduledMs);
      b.run.push(a.endedMs - a.startedMs);
      b.bytes += a.payloadBytes;
    }
  }
  const perCycle = (n: number) => (cycles.length ? Math.round((n / cycles.length) * 100) / 100 : 0);
  return {
    deploymentsSampled: workflowIds.length,
    cycles: cycles.length,
    cyclesWithOrder: cycles.filter((c) => c.activities.some((a) => a.type === 'placeOrder')).length,
    timerLagMs: summarize(acc.lag),
    firedToRecordedMs: summarize(acc.total),
    workflowTaskQueuedMs: summarize(acc.wq),
    workflowTaskRunMs: summarize(acc.wr),
    activityQueuedMs: summarize(acc.aq),
    activityRunMs: summarize(acc.ar),
    otherMs: summarize(acc.other),
    workflowTasksPerCycle: perCycle(tasksSeen),
    activitiesPerCycle: perCycle(activitiesSeen),
    byActivity: Object.fromEntries(
      Object.entries(byActivity).map(([type, v]) => [
        type,
        { count: v.queued.length, queuedMs: summarize(v.queued), runMs: summarize(v.run), meanPayloadBytes: Math.round(v.bytes / v.queued.length) },
      ]),
    ),
  };
}
