/**
 * Where one liquidation's time goes, read from its workflow history (event times are the Temporal server's): each
 * step (reduce-only, cancel, each round's look, its closes, the settle pause, the verdict) as an offset from the
 * workflow's start, and for the closes how long they waited for an activity slot (scheduled -> started) and ran.
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { summarize, type LatencySummary } from './percentiles';

type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

export interface LiquidationPhase {
  /** `reduce-only`, `cancel`, `look N`, `closes N`, `settle N`, `pause N`, `verdict` */
  step: string;
  /** from the workflow's start to the step's first schedule and its last completion */
  fromMs: number;
  toMs: number;
  count: number;
  /** task-queue activities: scheduled -> picked up by a worker, and picked up -> completed */
  queuedMs?: LatencySummary;
  runMs?: LatencySummary;
}

export interface LiquidationBreakdown {
  rounds: number;
  phases: LiquidationPhase[];
  historyEvents: number;
}

const NAMES: Record<string, string> = { beginReduceOnly: 'reduce-only', cancelLiquidationOrders: 'cancel', inspectLiquidation: 'look', placeOrder: 'closes', resolveOrder: 'resolve', finishLiquidation: 'verdict' };

export function liquidationPhases(events: readonly HistoryEvent[]): LiquidationBreakdown {
  const t0 = events.length ? tsToMs(events[0]!.eventTime) : 0;
  const at = (e: HistoryEvent) => tsToMs(e.eventTime) - t0;
  const acts = new Map<string, { step: string; scheduled: number; started?: number; ended?: number }>();
  const timers = new Map<string, { step: string; scheduled: number; ended?: number }>();
  let round = 0;
  for (const e of events) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const name = s.activityType?.name ?? '?';
      if (name === 'inspectLiquidation') round++;
      const base = NAMES[name] ?? name;
      acts.set(id, { step: ['look', 'closes', 'resolve'].includes(base) ? `${base} ${round}` : base, scheduled: at(e) });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = acts.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) a.started = at(e);
    } else if (e.timerStartedEventAttributes) {
      // the settle pause after a round's closes, else a wait (backoff, orders in flight, the open)
      const prev = [...acts.values()].pop();
      timers.set(String(e.timerStartedEventAttributes.timerId), { step: `${prev?.step.startsWith('closes') ? 'settle' : 'pause'} ${round}`, scheduled: at(e) });
    } else if (e.timerFiredEventAttributes) {
      const tm = timers.get(String(e.timerFiredEventAttributes.timerId));
      if (tm) tm.ended = at(e);
    } else {
      const ended = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      const a = ended ? acts.get(String(ended.scheduledEventId)) : undefined;
      if (a) a.ended = at(e);
    }
  }
  const phases: LiquidationPhase[] = [];
  const group = <T extends { step: string; scheduled: number; ended?: number }>(items: T[], figures: boolean) => {
    const by = new Map<string, T[]>();
    for (const x of items) by.set(x.step, [...(by.get(x.step) ?? []), x]);
    for (const [step, xs] of by) {
      const done = xs.filter((x) => x.ended !== undefined);
      const p: LiquidationPhase = { step, fromMs: Math.min(...xs.map((x) => x.scheduled)), toMs: done.length ? Math.max(...done.map((x) => x.ended!)) : NaN, count: xs.length };
      if (figures) {
        const ys = xs as unknown as Array<{ scheduled: number; started?: number; ended?: number }>;
        p.queuedMs = summarize(ys.filter((x) => x.started !== undefined).map((x) => x.started! - x.scheduled));
        p.runMs = summarize(ys.filter((x) => x.started !== undefined && x.ended !== undefined).map((x) => x.ended! - x.started!));
      }
      phases.push(p);
    }
  };
  group([...acts.values()], true);
  group([...timers.values()].filter((x) => x.ended !== undefined), false); // a timer that never fired: the closes' deadline
  phases.sort((a, b) => a.fromMs - b.fromMs);
  return { rounds: round, phases, historyEvents: events.length };
}

export async function liquidationBreakdown(client: Client, workflowId: string): Promise<LiquidationBreakdown> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return liquidationPhases(history.events ?? []);
}

/** One line per phase, for the bench's log. */
export function formatBreakdown(b: LiquidationBreakdown): string {
  return b.phases
    .map((p) => `  ${p.step.padEnd(12)} ${String(p.fromMs).padStart(6)} -> ${String(p.toMs).padStart(6)} ms (${p.count})${p.queuedMs ? `  queued p50 ${p.queuedMs.p50Ms} max ${p.queuedMs.maxMs}, run p50 ${p.runMs?.p50Ms} max ${p.runMs?.maxMs}` : ''}`)
    .join('\n');
}
