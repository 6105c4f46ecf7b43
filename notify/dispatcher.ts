/** Starts the dispatcher workflow from Node code (the IO workers' start-up, tests). Workflows wake it with workflows/notifications/wake.ts. */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID } from '../workflows/notifications/messages';
import type { notificationDispatchWorkflow } from '../workflows/notifications/workflow';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { TASK_QUEUES } from '../workflows/task-queues';

export const EnsureDispatcherOptionsSchema = z.strictObject({
  pollIntervalMs: z.number().int().min(10).max(3_600_000).optional(),
  minSleepMs: z.number().int().min(1).max(60_000).optional(),
  roundsPerRun: z.number().int().min(1).max(1_000).optional(),
  /** another id only for tests that need a dispatcher of their own */
  workflowId: z.string().min(1).max(200).default(NOTIFICATION_DISPATCHER_WORKFLOW_ID),
});
export type EnsureDispatcherOptions = z.input<typeof EnsureDispatcherOptionsSchema>;

/**
 * Starts the dispatcher unless it runs already (conflict policy USE_EXISTING: every worker or API process may call
 * this at start-up; the first wins, the rest get the running one). Its options apply only when it starts.
 */
export async function ensureNotificationDispatcher(client: Client, options: EnsureDispatcherOptions = {}): Promise<{ workflowId: string; runId: string }> {
  const { workflowId, ...input } = EnsureDispatcherOptionsSchema.parse(options);
  const handle = await client.workflow.start<typeof notificationDispatchWorkflow>('notificationDispatchWorkflow', {
    workflowId,
    taskQueue: TASK_QUEUES.io,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'notifications' }],
  });
  return { workflowId, runId: handle.firstExecutionRunId };
}
