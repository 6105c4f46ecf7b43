import * as wf from '@temporalio/workflow';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, notificationsEnqueuedSignal } from './messages';

/**
 * For workflow code whose activity has just enqueued a notification (in the transaction of the change it reports):
 * signals the dispatcher so it sends now rather than at its next poll. If it is not running, its next start drains
 * the row anyway, so this only logs.
 */
export async function wakeNotificationDispatcher(): Promise<void> {
  try {
    await wf.getExternalWorkflowHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID).signal(notificationsEnqueuedSignal);
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    wf.log.warn('notification dispatcher not reachable; the notification waits for it', { error: (err as Error).message });
  }
}
