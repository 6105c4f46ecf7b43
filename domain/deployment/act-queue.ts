import type { Timeframe } from '../bars';
import { nextBarClose, timeframeMs, type CalendarLike } from '../calendar';

/**
 * How many bars back a wake may name its close and still count as timely. The evaluator wakes an action at its close
 * and again at each close after until it is done; older ones expire when performed (staleAfterBars) and are picked up
 * by the deployment's own look for pending actions, so they need no place ahead of others.
 */
export const TIMELY_WAKE_BARS = 5;

interface WakeTiming {
  calendar: CalendarLike;
  timeframe: Timeframe;
  staleAfterBars: number;
}

/**
 * Whether `actionId` has the shape of a wake its evaluator would send now: `<deploymentId>:<close ms>` for a bar close
 * of the deployment's calendar within the last min(staleAfterBars, TIMELY_WAKE_BARS) bars of data time. At most
 * TIMELY_WAKE_BARS + 1 ids have that shape at any moment, so forged ones of that shape cannot fill an act queue.
 */
export function isTimelyWake(actionId: string, deploymentId: string, t: WakeTiming, dataNow: number): boolean {
  const prefix = `${deploymentId}:`;
  if (!actionId.startsWith(prefix)) return false;
  const digits = actionId.slice(prefix.length);
  if (!/^[1-9][0-9]{0,15}$/.test(digits)) return false;
  const close = Number(digits);
  if (close > dataNow || close < dataNow - Math.min(t.staleAfterBars, TIMELY_WAKE_BARS) * timeframeMs(t.timeframe)) return false;
  try {
    return nextBarClose(t.calendar, close - 1, t.timeframe) === close;
  } catch {
    return false; // a calendar that cannot say (out of its years): not a close it trades
  }
}

/**
 * Queues an act id once, at most `max` ids; returns how many ids were dropped unread (0 or 1). A timely wake goes
 * ahead of the ids that are not (after the first, which may be being performed); when the queue is full it takes the
 * place of the newest id that is not timely, so a flood of forged ids never keeps out a real wake. Anything else
 * arriving at a full queue is dropped.
 */
export function admitAct(queue: string[], id: string, max: number, timely: (id: string) => boolean): number {
  if (queue.includes(id)) return 0;
  // With at most one id queued there is nothing a timely id could go ahead of (the first may be being performed), so
  // the check is skipped: its first call builds the calendar's time-zone formatter, once per workflow (the sandbox
  // keeps module state per workflow), 12 % of the workflow threads' CPU in the runtime bench, where wakes come singly.
  if (queue.length <= 1 && queue.length < max) {
    queue.push(id);
    return 0;
  }
  const isTimely = timely(id);
  let dropped = 0;
  if (queue.length >= max) {
    if (!isTimely) return 1;
    const evict = findLast(queue, (a, i) => i > 0 && !timely(a));
    if (evict < 0) return 1;
    queue.splice(evict, 1);
    dropped = 1;
  }
  if (!isTimely) {
    queue.push(id);
    return dropped;
  }
  const at = queue.findIndex((a, i) => i > 0 && !timely(a));
  queue.splice(at < 0 ? queue.length : at, 0, id);
  return dropped;
}

function findLast(queue: string[], pred: (a: string, i: number) => boolean): number {
  for (let i = queue.length - 1; i >= 0; i--) if (pred(queue[i]!, i)) return i;
  return -1;
}
