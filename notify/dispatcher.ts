/** Client-side helper for the dispatcher workflow (Node code: tests); services/notification-dispatcher.ts starts it. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, notificationsEnqueuedSignal } from '../workflows/notifications/messages';

/** Tells the dispatcher something was enqueued; false when it is not running (its next start drains the outbox). */
export async function wakeNotificationDispatcher(client: Client, workflowId: string = NOTIFICATION_DISPATCHER_WORKFLOW_ID): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).signal(notificationsEnqueuedSignal);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
