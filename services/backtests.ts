import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { finishBacktestJob, insertBacktestJob, TERMINAL_JOB_STATUSES, type BacktestJobRow } from '../db/sql/backtest-jobs';
import type { BacktestSettings } from '../domain/backtest/types';
import { backtestProgressQuery, type BacktestProgress, type BacktestWorkflowInput } from '../workflows/backtest/messages';
import type { backtestWorkflow } from '../workflows/backtest/workflow';
import { backtestWorkflowId } from '../workflows/workflow-ids';
import { logOf, type ServiceDeps } from './deps';
import { conflict, unavailable } from './errors';
import { backtestStartOptions } from './start-options';
import { temporalCall } from './temporal-call';

const START_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 3_000;

export interface NewBacktest {
  symbol: string;
  timeframe: string;
  /** inclusive ISO 8601 bounds on the bar open time */
  from?: string;
  to?: string;
  /** validated, defaults filled in (parseBacktestSettings) */
  settings: BacktestSettings;
  by: string;
}

/**
 * How every backtest job starts (the API, the end-to-end benchmark, the history recorder): a queued job row, then
 * backtestWorkflow with the start options of services/start-options.ts. If Temporal cannot be reached the job is
 * recorded failed and the error is `unavailable`.
 */
export async function startBacktest(deps: ServiceDeps, b: NewBacktest): Promise<{ id: string; workflowId: string; handle: WorkflowHandleWithFirstExecutionRunId<typeof backtestWorkflow> }> {
  const id = randomUUID();
  const workflowId = backtestWorkflowId(id);
  const { symbol, timeframe, from, to, settings, by } = b;
  await insertBacktestJob(deps.db, { id, workflowId, symbol, timeframe, from, to, settings, requestedBy: by });
  const input: BacktestWorkflowInput = { jobId: id, symbol, timeframe, ...(from ? { from } : {}), ...(to ? { to } : {}), settings };
  try {
    const handle = await temporalCall(deps, 'starting the workflow', START_TIMEOUT_MS, () =>
      deps.temporal.workflow.start<typeof backtestWorkflow>('backtestWorkflow', backtestStartOptions(input)),
    );
    logOf(deps).info({ jobId: id, workflowId, symbol, strategy: settings.strategy, by }, 'backtest started');
    return { id, workflowId, handle };
  } catch (err) {
    logOf(deps).error({ err: { message: (err as Error).message }, jobId: id }, 'could not start backtest workflow');
    await finishBacktestJob(deps.db, id, 'failed', 'could not start the workflow (Temporal unavailable)').catch(() => undefined);
    throw unavailable('could not start the backtest: Temporal is unavailable; retry later');
  }
}

/** Live progress from the workflow's query, or undefined when it does not answer in time (the caller uses the row). */
export async function backtestProgress(deps: ServiceDeps, job: BacktestJobRow): Promise<BacktestProgress | undefined> {
  if (TERMINAL_JOB_STATUSES.includes(job.status)) return undefined;
  return temporalCall(deps, 'progress query', QUERY_TIMEOUT_MS, () => deps.temporal.workflow.getHandle(job.workflow_id).query(backtestProgressQuery)).catch((err: Error) => {
    logOf(deps).debug({ jobId: job.id, err: { message: err.message } }, 'progress query failed; using the job status');
    return undefined;
  });
}

/** Asks a queued or running job's workflow to stop; `conflict` when it has finished or is not running. */
export async function cancelBacktest(deps: ServiceDeps, job: BacktestJobRow, by: string, reason?: string): Promise<void> {
  if (TERMINAL_JOB_STATUSES.includes(job.status)) throw conflict(`backtest ${job.id} is already ${job.status}`);
  try {
    await temporalCall(deps, 'cancel', START_TIMEOUT_MS, () => deps.temporal.workflow.getHandle(job.workflow_id).cancel());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw conflict(`backtest ${job.id} is not running`);
    throw err;
  }
  logOf(deps).info({ jobId: job.id, by, reason }, 'backtest cancel requested');
}
