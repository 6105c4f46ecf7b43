/**
 * Where a deployment cycle's time goes, read from workflow histories (event times are the Temporal server's; local
 * activity times come from their markers, stamped by the worker on the same host). A cycle is the stretch from
 * TimerFired (the bar close plus the settle delay) to the next TimerStarted. It is a chain: workflow task (queued,
 * then run by the worker, local activities included) -> activity (queued, then run) -> workflow task -> ...;
 * summing each kind over the chain up to recordCycle's completion says whether cycles wait for workflow-task
 * slots, for activity slots, or for the steps' own work (Postgres, Redis, the broker).
 */
import type { Client } from '@temporalio/client';
import { eventMs, localStep, type HistoryEvent } from '../../harness/history-events';
import { summarize, type LatencySummary } from './percentiles';



interface StepTiming {
  type: string;
  local: boolean;
  scheduledMs: number;
  /** task-queue activities only: when a worker picked it up */
  startedMs?: number;
  endedMs?: number;
  /** bytes of the payloads it put in history (input and result; results only for local activities) */
  payloadBytes: number;
}

interface CycleTiming {
  firedMs: number;
  steps: StepTiming[];
  workflowTasks: Array<{ scheduledMs: number; startedMs?: number; completedMs?: number }>;
}

interface StepFigures {
  count: number;
  /** task-queue activities: scheduled to picked up */
  queuedMs: LatencySummary;
  /** task-queue activities: picked up to completed; local activities: the previous step's end to completed */
  runMs: LatencySummary;
  meanPayloadBytes: number;
}

export interface CycleBreakdown {
  deploymentsSampled: number;
  cycles: number;
  cyclesWithOrder: number;
  /** per cycle, from the bar close (wall) to TimerFired: timer precision plus the settle delay */
  timerLagMs: LatencySummary;
  /** per cycle, TimerFired to recordCycle completed */
  firedToRecordedMs: LatencySummary;
  /** per cycle, summed over the chain up to recordCycle: workflow tasks waiting for a worker, and being run (local activities excluded) */
  workflowTaskQueuedMs: LatencySummary;
  workflowTaskRunMs: LatencySummary;
  /** per cycle, summed likewise: local activities (they run inside workflow tasks) */
  localActivityMs: LatencySummary;
  /** per cycle, summed likewise: task-queue activities waiting for a worker slot, and running */
  activityQueuedMs: LatencySummary;
  activityRunMs: LatencySummary;
  /** per cycle: what the sums above do not explain (server persistence between steps) */
  otherMs: LatencySummary;
  workflowTasksPerCycle: number;
  activitiesPerCycle: number;
  localActivitiesPerCycle: number;
  /** per step type (`local:` marks local activities), per execution */
  bySteps: Record<string, StepFigures>;
}

const timeOf = eventMs;
const payloadBytes = (payloads: ReadonlyArray<{ data?: Uint8Array | null }> | null | undefined) => (payloads ?? []).reduce((s, p) => s + (p.data?.length ?? 0), 0);


/** Start of each local activity: the end of the previous one in the same workflow task, else the task's start. */
function startLocalSteps(c: CycleTiming): void {
  let previousEnd: number | undefined;
  let previousTask: CycleTiming['workflowTasks'][number] | undefined;
  for (const s of c.steps.filter((x) => x.local)) {
    const task = c.workflowTasks.find((t) => t.startedMs !== undefined && t.startedMs <= s.endedMs! && s.endedMs! <= (t.completedMs ?? Infinity));
    if (!task) continue;
    s.scheduledMs = task === previousTask && previousEnd !== undefined ? Math.max(previousEnd, task.startedMs!) : task.startedMs!;
    previousEnd = s.endedMs;
    previousTask = task;
  }
}

/** Splits one history into cycles (only those that recorded their audit row). */
export function cyclesOfHistory(events: readonly HistoryEvent[]): CycleTiming[] {
  const cycles: CycleTiming[] = [];
  let current: CycleTiming | undefined;
  const steps = new Map<string, StepTiming>();
  const tasks = new Map<string, CycleTiming['workflowTasks'][number]>();
  for (const e of events) {
    const id = String(e.eventId);
    if (e.timerFiredEventAttributes) {
      current = { firedMs: timeOf(e), steps: [], workflowTasks: [] };
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
      const step: StepTiming = { type: a.activityType?.name ?? '?', local: false, scheduledMs: timeOf(e), payloadBytes: payloadBytes(a.input?.payloads) };
      steps.set(id, step);
      current.steps.push(step);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = steps.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) a.startedMs = timeOf(e);
    } else if (e.markerRecordedEventAttributes) {
      const step = localStep(e);
      if (step) current.steps.push(step);
    } else {
      const ended = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      const a = ended ? steps.get(String(ended.scheduledEventId)) : undefined;
      if (a) {
        a.endedMs = timeOf(e);
        a.payloadBytes += payloadBytes(e.activityTaskCompletedEventAttributes?.result?.payloads);
      }
    }
  }
  const recorded = cycles.filter((c) => c.steps.some((s) => s.type === 'recordCycle' && s.endedMs !== undefined));
  recorded.forEach(startLocalSteps);
  return recorded;
}

/** Length of the parts of [from, to] covered by `intervals` (which may overlap each other). */
function covered(from: number, to: number, intervals: ReadonlyArray<[number, number]>): number {
  let total = 0;
  let reached = from;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    const lo = Math.max(a, reached);
    const hi = Math.min(b, to);
    if (hi > lo) total += hi - lo;
    reached = Math.max(reached, Math.min(b, to));
  }
  return total;
}

/**
 * Reads the histories of `workflowIds` (a few at a time) and sums up their cycles for the bar closes `closes`
 * (data time); `wallOf` maps a bar close to its wall time. A cycle belongs to the latest of `closes` whose wall
 * time is at or before its TimerFired, within a minute.
 */
export async function cycleBreakdown(client: Client, workflowIds: readonly string[], closes: readonly number[], wallOf: (barCloseMs: number) => number): Promise<CycleBreakdown> {
  const found: Array<{ c: CycleTiming; closeWall: number }> = [];
  const queue = [...workflowIds];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const history = await client.workflow.getHandle(id).fetchHistory();
        for (const c of cyclesOfHistory(history.events ?? [])) {
          const walls = closes.map(wallOf).filter((w) => w <= c.firedMs && c.firedMs - w < 60_000);
          if (walls.length) found.push({ c, closeWall: Math.max(...walls) });
        }
      }
    }),
  );

  const acc = { lag: [] as number[], total: [] as number[], wq: [] as number[], wr: [] as number[], la: [] as number[], aq: [] as number[], ar: [] as number[], other: [] as number[] };
  const bySteps: Record<string, { queued: number[]; run: number[]; bytes: number }> = {};
  let tasksSeen = 0;
  let activitiesSeen = 0;
  let localsSeen = 0;
  for (const { c, closeWall } of found) {
    const record = c.steps.find((s) => s.type === 'recordCycle')!;
    const end = record.endedMs!;
    const upToRecord = c.steps.slice(0, c.steps.indexOf(record) + 1);
    const remote = upToRecord.filter((s) => !s.local);
    const locals: Array<[number, number]> = upToRecord.filter((s) => s.local && s.endedMs !== undefined).map((s) => [s.scheduledMs, Math.min(s.endedMs!, end)]);
    // the task that handles recordCycle's result comes after the audit row: not part of the chain
    const tasks = c.workflowTasks.filter((t) => t.scheduledMs < end && t.startedMs !== undefined && t.completedMs !== undefined);
    const wq = tasks.reduce((s, t) => s + (t.startedMs! - t.scheduledMs), 0);
    // local activities while a workflow task runs (a long one spans heartbeat tasks: the gaps count as queued)
    const la = tasks.reduce((s, t) => s + covered(t.startedMs!, Math.min(t.completedMs!, end), locals), 0);
    const wr = tasks.reduce((s, t) => s + (Math.min(t.completedMs!, end) - t.startedMs!), 0) - la;
    const aq = remote.reduce((s, a) => s + ((a.startedMs ?? a.scheduledMs) - a.scheduledMs), 0);
    const ar = remote.reduce((s, a) => s + (Math.min(a.endedMs ?? a.scheduledMs, end) - (a.startedMs ?? a.scheduledMs)), 0);
    const total = end - c.firedMs;
    acc.lag.push(c.firedMs - closeWall);
    acc.total.push(total);
    acc.wq.push(wq);
    acc.wr.push(wr);
    acc.la.push(la);
    acc.aq.push(aq);
    acc.ar.push(ar);
    acc.other.push(total - wq - wr - la - aq - ar);
    tasksSeen += c.workflowTasks.length;
    activitiesSeen += c.steps.filter((s) => !s.local).length;
    localsSeen += c.steps.filter((s) => s.local).length;
    for (const s of c.steps) {
      if (s.endedMs === undefined || (!s.local && s.startedMs === undefined)) continue;
      const b = (bySteps[s.local ? `local:${s.type}` : s.type] ??= { queued: [], run: [], bytes: 0 });
      if (!s.local) b.queued.push(s.startedMs! - s.scheduledMs);
      b.run.push(s.endedMs - (s.startedMs ?? s.scheduledMs));
      b.bytes += s.payloadBytes;
    }
  }
  const perCycle = (n: number) => (found.length ? Math.round((n / found.length) * 100) / 100 : 0);
  return {
    deploymentsSampled: workflowIds.length,
    cycles: found.length,
    cyclesWithOrder: found.filter(({ c }) => c.steps.some((s) => s.type === 'placeOrder')).length,
    timerLagMs: summarize(acc.lag),
    firedToRecordedMs: summarize(acc.total),
    workflowTaskQueuedMs: summarize(acc.wq),
    workflowTaskRunMs: summarize(acc.wr),
    localActivityMs: summarize(acc.la),
    activityQueuedMs: summarize(acc.aq),
    activityRunMs: summarize(acc.ar),
    otherMs: summarize(acc.other),
    workflowTasksPerCycle: perCycle(tasksSeen),
    activitiesPerCycle: perCycle(activitiesSeen),
    localActivitiesPerCycle: perCycle(localsSeen),
    bySteps: Object.fromEntries(
      Object.entries(bySteps).map(([type, v]) => [
        type,
        { count: v.run.length, queuedMs: summarize(v.queued), runMs: summarize(v.run), meanPayloadBytes: Math.round(v.bytes / v.run.length) },
      ]),
    ),
  };
}
