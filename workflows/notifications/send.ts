import * as wf from '@temporalio/workflow';
import type { NotificationActivities } from '../../activities/notifications';
import type { NotificationInput } from '../../notify/message';
import { dbWrite } from '../activity-options';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, notificationsEnqueuedSignal } from './messages';

const { enqueueNotification } = wf.proxyActivities<NotificationActivities>(dbWrite);

/**
 * For workflow code (approvals, end-of-day alerts): enqueue into the outbox, then wake the dispatcher. Give a
 * deterministic dedupeKey (e.g. `${workflowInfo().workflowId}:approval-requested:${n}`), so a replayed or retried
 * step enqueues once.
 */
export async function sendNotification(input: NotificationInput): Promise<{ id: string; created: boolean }> {
  const queued = await enqueueNotification(input);
  // Also when created is false: an earlier attempt may have committed the row and died before waking anyone.
  await wakeNotificationDispatcher();
  return queued;
}

/** Signals the dispatcher; if it is not running, its next start drains the row anyway, so this only logs. */
export async function wakeNotificationDispatcher(): Promise<void> {
  try {
    await wf.getExternalWorkflowHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID).signal(notificationsEnqueuedSignal);
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    wf.log.warn('notification dispatcher not reachable; the notification waits for it', { error: (err as Error).message });
  }
}
