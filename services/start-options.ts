import type { WorkflowStartOptions } from '@temporalio/client';
import type { BacktestWorkflowInput } from '../workflows/backtest/messages';
import type { backtestWorkflow } from '../workflows/backtest/workflow';
import type { DeploymentWorkflowInput } from '../workflows/deployment/messages';
import type { deploymentWorkflow } from '../workflows/deployment/workflow';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, type NotificationDispatchInput } from '../workflows/notifications/messages';
import type { notificationDispatchWorkflow } from '../workflows/notifications/workflow';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { StressScanWorkflowInput } from '../workflows/stress-scan/messages';
import type { stressScanWorkflow } from '../workflows/stress-scan/workflow';
import { TASK_QUEUES } from '../workflows/task-queues';
import { backtestWorkflowId, deploymentWorkflowId, stressScanWorkflowId } from '../workflows/workflow-ids';

/**
 * How each workflow a client starts is started: its id, queue, conflict policy and search attributes, in one place.
 * (Approvals are started by their deployment's runtime, in workflow code: workflows/deployment/approvals.ts.)
 */

/** A deployment's runtime: never a second one for an id, not even after the first has closed. */
export function deploymentStartOptions(input: DeploymentWorkflowInput): WorkflowStartOptions<typeof deploymentWorkflow> {
  return {
    taskQueue: TASK_QUEUES.io,
    workflowId: deploymentWorkflowId(input.deploymentId),
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.deploymentId, value: input.deploymentId },
      { key: SEARCH_ATTRIBUTES.accountId, value: input.spec.accountId },
      { key: SEARCH_ATTRIBUTES.strategy, value: input.spec.strategy },
      { key: SEARCH_ATTRIBUTES.symbol, value: input.spec.symbols[0]! },
      // a scanner starts idle; its runtime upserts each phase change
      ...(input.spec.scanner ? [{ key: SEARCH_ATTRIBUTES.phase, value: 'idle' }] : []),
    ],
  };
}

/** One backtest job on the cpu queue. */
export function backtestStartOptions(input: BacktestWorkflowInput): WorkflowStartOptions<typeof backtestWorkflow> {
  return {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: backtestWorkflowId(input.jobId),
    args: [input],
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.jobType, value: 'backtest' },
      { key: SEARCH_ATTRIBUTES.symbol, value: input.symbol },
      { key: SEARCH_ATTRIBUTES.strategy, value: input.settings.strategy },
    ],
  };
}

/**
 * One stress scan on the cpu queue: never a second run chain for a job, not even after the first has closed; its
 * label is the run's static summary in the Temporal UI.
 */
export function stressScanStartOptions(input: StressScanWorkflowInput & { label: string }, scan: { symbol: string; strategy: string }): WorkflowStartOptions<typeof stressScanWorkflow> {
  return {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: stressScanWorkflowId(input.jobId),
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: input.label,
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.jobType, value: 'stress_scan' },
      { key: SEARCH_ATTRIBUTES.symbol, value: scan.symbol },
      { key: SEARCH_ATTRIBUTES.strategy, value: scan.strategy },
    ],
  };
}

/** The outbox's one dispatcher: a start while it runs gets the running one (every IO worker asks at start-up). */
export function notificationDispatcherStartOptions(input: NotificationDispatchInput): WorkflowStartOptions<typeof notificationDispatchWorkflow> {
  return {
    taskQueue: TASK_QUEUES.io,
    workflowId: NOTIFICATION_DISPATCHER_WORKFLOW_ID,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'notifications' }],
  };
}
