import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { notificationDispatchWorkflow } from '../workflows/notifications/workflow';
import { notificationDispatcherStartOptions } from './start-options';

export const EnsureDispatcherOptionsSchema = z.strictObject({
  pollIntervalMs: z.number().int().min(10).max(3_600_000).optional(),
  minSleepMs: z.number().int().min(1).max(60_000).optional(),
  roundsPerRun: z.number().int().min(1).max(1_000).optional(),
});
export type EnsureDispatcherOptions = z.input<typeof EnsureDispatcherOptionsSchema>;

/**
 * Starts the outbox's one dispatcher unless it runs already (conflict policy USE_EXISTING: every worker or API
 * process may call this at start-up; the first wins, the rest get the running one). Its options apply only when it
 * starts. A dispatcher started by hand under any other id refuses to run (workflows/notifications/workflow.ts).
 */
export async function ensureNotificationDispatcher(client: Client, options: EnsureDispatcherOptions = {}): Promise<{ workflowId: string; runId: string }> {
  const opts = notificationDispatcherStartOptions(EnsureDispatcherOptionsSchema.parse(options));
  const handle = await client.workflow.start<typeof notificationDispatchWorkflow>('notificationDispatchWorkflow', opts);
  return { workflowId: opts.workflowId, runId: handle.firstExecutionRunId };
}
