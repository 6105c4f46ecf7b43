import type { WorkflowStartOptions } from '@temporalio/client';
import type { BacktestWorkflowInput } from '../workflows/backtest/messages';
import type { backtestWorkflow } from '../workflows/backtest/workflow';
import type { DeploymentWorkflowInput } from '../workflows/deployment/messages';
import type { deploymentWorkflow } from '../workflows/deployment/workflow';
import type { Liquidation } from '../db/sql/liquidations';
import { exchangeTime } from '../domain/eod/policy';
import { EOD_SCHEDULER_WORKFLOW_ID, type EodSchedulerInput } from '../workflows/eod/messages';
import type { eodLiquidationWorkflow } from '../workflows/eod/liquidation';
import type { eodSchedulerWorkflow } from '../workflows/eod/scheduler';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, type NotificationDispatchInput } from '../workflows/notifications/messages';
import type { notificationDispatchWorkflow } from '../workflows/notifications/workflow';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { backtestLine, deploymentLine } from '../workflows/summaries';
import type { StressScanWorkflowInput } from '../workflows/stress-scan/messages';
import type { stressScanWorkflow } from '../workflows/stress-scan/workflow';
import { TASK_QUEUES } from '../workflows/task-queues';
import { backtestWorkflowId, deploymentWorkflowId, stressScanWorkflowId } from '../workflows/workflow-ids';

/**
 * How each workflow a client starts is started: its id, queue, conflict policy, search attributes and static summary
 * (its line in the Temporal UI), in one place.
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
    staticSummary: deploymentLine(input),
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
    staticSummary: backtestLine(input),
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
    staticSummary: 'notification outbox dispatcher',
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'notifications' }],
  };
}

/**
 * One account's end-of-day liquidation, by hand (the scheduler starts the same id as a child). Two triggers for one
 * account and day are one liquidation: a running one is kept, a finished one is never run again.
 */
export function liquidationStartOptions(l: Pick<Liquidation, 'id' | 'workflowId' | 'accountId' | 'tradingDay' | 'closeAtMs'>): WorkflowStartOptions<typeof eodLiquidationWorkflow> {
  return {
    taskQueue: TASK_QUEUES.io,
    workflowId: l.workflowId,
    args: [{ liquidationId: l.id }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: `liquidate ${l.accountId} · ${l.tradingDay} · close ${exchangeTime('XNYS', l.closeAtMs).slice(11)} ET`,
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.jobType, value: 'liquidation' },
      { key: SEARCH_ATTRIBUTES.accountId, value: l.accountId },
    ],
  };
}

/** The end-of-day scheduler, one for the platform (a rehearsal runs its own under another id): a start while it runs gets the running one. */
export function eodSchedulerStartOptions(input: EodSchedulerInput, workflowId = EOD_SCHEDULER_WORKFLOW_ID): WorkflowStartOptions<typeof eodSchedulerWorkflow> {
  return {
    taskQueue: TASK_QUEUES.io,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: 'end-of-day scheduler: liquidations at the close minus their margin, daily summaries after the close (NYSE calendar)',
    typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'eod-scheduler' }],
  };
}
