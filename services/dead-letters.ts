/**
 * The dead-letter view: what failed for good (failed and timed-out workflows from Temporal visibility, dead
 * notifications, imports that skipped invalid bars), and an operator's retry or resolve of one entry, audited.
 */
import { randomUUID } from 'node:crypto';
import { insertAudit } from '../db/sql/audit';
import { reopenFailedBacktestJob } from '../db/sql/backtest-jobs';
import {
  insertDeadLetterAction,
  refsWithAction,
  rejectedImportExists,
  unresolvedDeadNotifications,
  unresolvedRejectedImports,
  type DeadLetterKind,
  type DeadNotification,
  type RejectedImport,
} from '../db/sql/dead-letters';
import { getNotification, requeueDeadNotification } from '../db/sql/notifications';
import { inTransaction } from '../db/sql/queryable';
import type { ServiceDeps } from './deps';
import { conflict, notFound } from './errors';
import { temporalCall } from './temporal-call';

export type DeadLetterDeps = ServiceDeps;

export interface FailedWorkflow {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  closedAt: string | null;
  /** a retry re-runs it from the start (a Temporal reset) */
  retryable: boolean;
}

export interface DeadLetters {
  workflows: FailedWorkflow[];
  notifications: DeadNotification[];
  barImports: RejectedImport[];
}

/**
 * Workflows whose re-run from the start is safe: each step is idempotent and the run takes its data from the row it
 * reopens (a backtest) or from the worker's settings (maintenance). Others are resolved, not retried.
 */
const RETRYABLE_TYPES = new Set(['backtestWorkflow', 'backupWorkflow', 'staleJobsWorkflow']);
const FAILED_STATUSES = new Set(['FAILED', 'TIMED_OUT']);
const TEMPORAL_MS = 5_000;

const within = <T>(deps: DeadLetterDeps, what: string, fn: () => Promise<T>) => temporalCall(deps, what, TEMPORAL_MS, fn);

export async function listDeadLetters(deps: DeadLetterDeps, limit: number): Promise<DeadLetters> {
  const found: FailedWorkflow[] = [];
  await within(deps, 'listing failed workflows', async () => {
    for await (const w of deps.temporal.workflow.list({ query: `ExecutionStatus = "Failed" OR ExecutionStatus = "TimedOut"`, pageSize: Math.min(limit * 2, 1_000) })) {
      found.push({ workflowId: w.workflowId, runId: w.runId, type: w.type, status: w.status.name, closedAt: w.closeTime?.toISOString() ?? null, retryable: RETRYABLE_TYPES.has(w.type) });
      if (found.length >= limit * 2) break;
    }
  });
  const acted = await refsWithAction(deps.db, 'workflow', found.map(workflowRef), ['retried', 'resolved']);
  const [notifications, barImports] = await Promise.all([unresolvedDeadNotifications(deps.db, limit), unresolvedRejectedImports(deps.db, limit)]);
  return { workflows: found.filter((w) => !acted.has(workflowRef(w))).slice(0, limit), notifications, barImports };
}

const workflowRef = (w: { workflowId: string; runId: string }) => `${w.workflowId}/${w.runId}`;

export interface DeadLetterTarget {
  kind: DeadLetterKind;
  /** notification id, import id, or workflow id (with runId) */
  id: string;
  runId?: string;
  reason: string;
  by: string;
}

/** What was done; a request that cannot be done throws notFound or conflict (services/errors.ts). */
export interface DeadLetterOutcome {
  detail: string;
  newRunId?: string;
}

/** Puts an entry back to work: a dead notification gets fresh attempts; a retryable failed workflow runs again. */
export async function retryDeadLetter(deps: DeadLetterDeps, t: DeadLetterTarget): Promise<DeadLetterOutcome> {
  if (t.kind === 'bar-import') throw conflict('an import cannot be retried: import the corrected file again, then resolve this entry');
  if (t.kind === 'notification') {
    const n = await getNotification(deps.db, t.id);
    if (!n) throw notFound(`no notification ${t.id}`);
    if ((await refsWithAction(deps.db, 'notification', [t.id], ['resolved'])).size) throw conflict(`notification ${t.id} was resolved`);
    return inTransaction(deps.db, async (tx) => {
      if (!(await requeueDeadNotification(tx, t.id))) throw conflict(`notification ${t.id} is ${n.status}, not dead`);
      await insertDeadLetterAction(tx, 'notification', t.id, 'retried', t.reason, t.by);
      await insertAudit(tx, t.by, 'dead-letter.retried', `notification:${t.id}`, { reason: t.reason });
      return { detail: `notification ${t.id} is pending again with fresh attempts` };
    });
  }
  const w = await failedWorkflow(deps, t);
  if (!RETRYABLE_TYPES.has(w.type)) throw conflict(`${w.type} is not retried from here (only ${[...RETRYABLE_TYPES].join(', ')}): resolve it`);
  const ref = workflowRef({ workflowId: t.id, runId: t.runId! });
  if ((await refsWithAction(deps.db, 'workflow', [ref], ['retried', 'resolved'])).size) throw conflict(`run ${ref} was already retried or resolved`);
  return inTransaction(deps.db, async (tx) => {
    // The job row goes back to queued first, so the new run's markBacktestRunning finds it; rolled back if the reset fails.
    if (w.type === 'backtestWorkflow' && !(await reopenFailedBacktestJob(tx, t.id))) throw conflict(`the job of ${t.id} is not failed`);
    await insertDeadLetterAction(tx, 'workflow', ref, 'retried', t.reason, t.by);
    const newRunId = await within(deps, `resetting ${ref}`, async () => {
      const { history } = await deps.temporal.workflowService.getWorkflowExecutionHistory({ namespace: deps.temporal.options.namespace, execution: { workflowId: t.id, runId: t.runId }, maximumPageSize: 10 });
      const firstTask = history?.events?.find((e) => e.workflowTaskCompletedEventAttributes);
      if (!firstTask?.eventId) throw new Error(`run ${ref} has no completed workflow task to reset to`);
      const res = await deps.temporal.workflowService.resetWorkflowExecution({
        namespace: deps.temporal.options.namespace, workflowExecution: { workflowId: t.id, runId: t.runId }, workflowTaskFinishEventId: firstTask.eventId, reason: `${t.by}: ${t.reason}`.slice(0, 500), requestId: randomUUID(),
      });
      return res.runId ?? '';
    });
    await insertAudit(tx, t.by, 'dead-letter.retried', `workflow:${ref}`, { reason: t.reason, type: w.type, newRunId });
    return { detail: `${w.type} ${t.id} runs again from the start (run ${newRunId})`, newRunId };
  });
}

/** Takes an entry out of the view for good, with the reason; the thing itself is left as it is. */
export async function resolveDeadLetter(deps: DeadLetterDeps, t: DeadLetterTarget): Promise<DeadLetterOutcome> {
  let ref = t.id;
  if (t.kind === 'notification') {
    const n = await getNotification(deps.db, t.id);
    if (!n) throw notFound(`no notification ${t.id}`);
    if (n.status !== 'dead') throw conflict(`notification ${t.id} is ${n.status}, not dead`);
  } else if (t.kind === 'bar-import') {
    if (!(await rejectedImportExists(deps.db, t.id))) throw notFound(`no import ${t.id} with rejected bars`);
  } else {
    await failedWorkflow(deps, t);
    ref = workflowRef({ workflowId: t.id, runId: t.runId! });
  }
  if ((await refsWithAction(deps.db, t.kind, [ref], ['resolved'])).size) throw conflict(`${t.kind} ${ref} is already resolved`);
  await inTransaction(deps.db, async (tx) => {
    await insertDeadLetterAction(tx, t.kind, ref, 'resolved', t.reason, t.by);
    await insertAudit(tx, t.by, 'dead-letter.resolved', `${t.kind}:${ref}`, { reason: t.reason });
  });
  return { detail: `${t.kind} ${ref} resolved` };
}

/** The run, verified with Temporal: it exists and failed or timed out. */
async function failedWorkflow(deps: DeadLetterDeps, t: DeadLetterTarget): Promise<{ type: string }> {
  if (!t.runId) throw notFound('a workflow entry needs its runId');
  const d = await within(deps, `describing ${t.id}`, () => deps.temporal.workflow.getHandle(t.id, t.runId).describe()).catch((err: Error) => {
    if (err.name === 'WorkflowNotFoundError') return undefined;
    throw err;
  });
  if (!d) throw notFound(`no workflow ${t.id} run ${t.runId}`);
  if (!FAILED_STATUSES.has(d.status.name)) throw conflict(`workflow ${t.id} run ${t.runId} is ${d.status.name}, not failed`);
  return { type: d.type };
}
