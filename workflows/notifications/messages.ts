import { defineQuery, defineSignal } from '@temporalio/workflow';

/** One dispatcher per namespace; ensureNotificationDispatcher (services/notification-dispatcher.ts) starts it under this id. */
export const NOTIFICATION_DISPATCHER_WORKFLOW_ID = 'notification-dispatcher';

export interface NotificationDispatchTotals {
  rounds: number;
  claimed: number;
  sent: number;
  retried: number;
  dead: number;
  lostClaims: number;
}

export interface NotificationDispatchInput {
  /** longest wait between two looks at the outbox when no signal wakes it (default 10 s) */
  pollIntervalMs?: number;
  /** shortest wait, so a row that is due but held by another dispatcher cannot spin the loop (default 250 ms) */
  minSleepMs?: number;
  /** continue-as-new after this many dispatch rounds (default 100: about 1,100 history events) */
  roundsPerRun?: number;
  /** counts carried across continue-as-new */
  totals?: NotificationDispatchTotals;
}

export interface NotificationDispatchState {
  totals: NotificationDispatchTotals;
  /** rounds in this run (resets at continue-as-new) */
  roundsThisRun: number;
  /** workflow time of the last finished round (epoch ms), null before the first */
  lastRoundAt: number | null;
  /** how long the current wait lasts unless a signal ends it, null while a round runs */
  waitingMs: number | null;
}

/** Sent after enqueueing, so the dispatcher sends now instead of at its next poll. Carries nothing. */
export const notificationsEnqueuedSignal = defineSignal('notificationsEnqueued');
export const notificationDispatchStateQuery = defineQuery<NotificationDispatchState>('notificationDispatchState');
