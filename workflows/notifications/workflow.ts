import * as wf from '@temporalio/workflow';
import type { NotificationActivities } from '../../activities/notifications';
import { dbWrite } from '../activity-options';
import { sample, verifyNotificationDispatcherStart, type RefusedStart } from '../start-check';
import { workflowNow } from '../time';
import { notificationDispatchStateQuery, notificationsEnqueuedSignal } from './messages';
import type { NotificationDispatchInput, NotificationDispatchTotals } from './messages';

// Postgres work with webhook calls inside a time budget that ends well within dbWrite's 30 s start-to-close.
const { dispatchNotifications } = wf.proxyActivities<NotificationActivities>(dbWrite);

const DEFAULT_POLL_MS = 10_000;
const DEFAULT_MIN_SLEEP_MS = 250;
const DEFAULT_ROUNDS_PER_RUN = 100;

/** A knob from the input, rounded and bounded; anything but a finite number is the default. */
const clamp = (v: unknown, fallback: number, min: number, max: number) => Math.min(max, Math.max(min, Math.round(typeof v === 'number' && Number.isFinite(v) ? v : fallback)));

/**
 * The outbox drain (one per namespace, id `notification-dispatcher`): run `dispatchNotifications`, then wait until the
 * next row is due, the poll interval passes or a `notificationsEnqueued` signal arrives; continue-as-new every
 * `roundsPerRun` rounds. Its history holds only counts: channels and their URLs live in the activity's deps.
 * It sends only what callers recorded in the outbox, so one started by hand could forge nothing, but each extra one is
 * load: every run first checks it is the one dispatcher (by its workflow id), and any other ends with one audit row.
 */
export async function notificationDispatchWorkflow(input: NotificationDispatchInput = {}): Promise<RefusedStart | void> {
  const start = await verifyNotificationDispatcherStart({ sample: sample(input) });
  if (!start.ok) return { status: 'refused', reason: start.reason };
  const opts: NotificationDispatchInput = typeof input === 'object' && input !== null ? input : {};
  const pollMs = clamp(opts.pollIntervalMs, DEFAULT_POLL_MS, 10, 3_600_000);
  const minSleepMs = clamp(opts.minSleepMs, DEFAULT_MIN_SLEEP_MS, 1, pollMs);
  const roundsPerRun = clamp(opts.roundsPerRun, DEFAULT_ROUNDS_PER_RUN, 1, 1_000);
  const totals: NotificationDispatchTotals = { ...(opts.totals ?? { rounds: 0, claimed: 0, sent: 0, retried: 0, dead: 0, lostClaims: 0 }) };
  let roundsThisRun = 0;
  let lastRoundAt: number | null = null;
  let waitingMs: number | null = null;
  // Set by a signal at any time, including while a round runs: the wait after that round then ends at once.
  let woken = false;

  wf.setHandler(notificationsEnqueuedSignal, () => {
    woken = true;
  });
  wf.setHandler(notificationDispatchStateQuery, () => ({ totals: { ...totals }, roundsThisRun, lastRoundAt, waitingMs }));

  while (roundsThisRun < roundsPerRun && !wf.workflowInfo().continueAsNewSuggested) {
    woken = false;
    const r = await dispatchNotifications({});
    roundsThisRun++;
    totals.rounds++;
    totals.claimed += r.claimed;
    totals.sent += r.sent;
    totals.retried += r.retried;
    totals.dead += r.dead;
    totals.lostClaims += r.lostClaims;
    lastRoundAt = workflowNow();
    // A backlog (the round stopped at its budget with rows still due) is drained at once; otherwise sleep until the
    // next row is due, within [minSleepMs, pollMs].
    if (r.claimed > 0 && r.nextDueInMs === 0) continue;
    waitingMs = Math.min(pollMs, Math.max(minSleepMs, r.nextDueInMs ?? pollMs));
    await wf.condition(() => woken, waitingMs);
    waitingMs = null;
  }
  await wf.condition(wf.allHandlersFinished);
  await wf.continueAsNew<typeof notificationDispatchWorkflow>({ ...opts, totals });
}
