import { WorkflowNotFoundError } from '@temporalio/common';
import { getDeployment, setDeploymentRowStatus, type DeploymentRowStatus } from '../db/sql/deployments';
import { inTransaction } from '../db/sql/queryable';
import { insertAudit } from '../db/sql/audit';
import type { CommandKind, DeploymentStatus } from '../domain/deployment/commands';
import type { CommandOutcome } from '../workflows/deployment/messages';
import { cancelCommand, recordCommand, sendCommandUpdate, type CommandRequest } from './deployment-command-records';
import { logOf, type ServiceDeps } from './deps';
import { conflict, notFound, unavailable } from './errors';
import { temporalCall } from './temporal-call';

/** How long the caller waits for the runtime's answer before it hears applied: false. */
export const COMMAND_WAIT_MS = 5_000;
/** How long a look at the workflow may take when the runtime did not answer (reachable or not?). */
const PROBE_MS = 2_000;

const LIVE: readonly DeploymentRowStatus[] = ['running', 'paused', 'blocked'];
/** The statuses from which each command is recorded (the runtime checks again when it applies it). */
const ALLOWED: Record<CommandKind, { from: readonly DeploymentRowStatus[]; refuse: string }> = {
  pause: { from: ['running', 'blocked'], refuse: 'only a running deployment can be paused' },
  resume: { from: ['paused'], refuse: 'only a paused deployment can be resumed' },
  stop: { from: LIVE, refuse: 'it is not running' },
  flatten: { from: LIVE, refuse: 'its runtime has ended; nothing can be flattened by it' },
  params: { from: LIVE, refuse: 'its params can no longer change' },
  'breaker-reset': { from: LIVE, refuse: 'it has no breaker to reset' },
};

/** What a command came to: the runtime's answer (applied), or recorded and not answered in time (applied later). */
export interface CommandAnswer {
  id: string;
  action: CommandKind;
  commandId: string;
  applied: boolean;
  status: DeploymentStatus;
  cycle: number | null;
  paramsVersion: number;
  detail: string;
  /** params commands: the version assigned, and the params */
  version?: number;
  params?: Record<string, number | boolean>;
}

/** gRPC UNAVAILABLE anywhere in the cause chain: Temporal could not be reached (a deadline alone is not that). */
function temporalUnreachable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 8; depth++, e = e.cause as typeof e) {
    if (e.code === 14) return true;
    if (typeof e.message === 'string' && /\b(UNAVAILABLE|ECONNREFUSED|Failed to connect)\b/.test(e.message)) return true;
  }
  return false;
}

/**
 * The one way a deployment is paused, resumed, stopped, flattened, re-parameterised or has its breaker reset (the
 * API's command routes, and every tool): record the command (and its audit row) under the deployment's row lock and
 * commit, then send the runtime an update carrying the command's id and wait up to COMMAND_WAIT_MS for its answer.
 * Applied: the runtime's answer. Refused by the runtime, or by the row's status: `conflict` with the reason. No answer
 * in time: applied: false (the command stays recorded and the runtime applies it later). Temporal unreachable: the
 * command is cancelled (unless the runtime applied it meanwhile) and the error is `unavailable`. The runtime gone: the
 * command is cancelled, the row recorded as stopped, `conflict`. No such deployment: `notFound`.
 */
export async function issueDeploymentCommand(deps: ServiceDeps, req: CommandRequest): Promise<CommandAnswer> {
  const { db, temporal } = deps;
  const log = logOf(deps);
  const { kind } = req;
  const rule = ALLOWED[kind];
  const recorded = await recordCommand(db, req, (d) => {
    if (!rule.from.includes(d.status)) throw conflict(`deployment ${d.id} is ${d.status}: ${kind} refused (${rule.refuse})`);
  });
  if (!recorded) throw notFound(`no deployment ${req.deploymentId}`);
  const { command, deployment } = recorded;
  const version = kind === 'params' ? Number(command.payload.version) : undefined;
  const answer = (o: { status: DeploymentStatus; cycle: number | null; paramsVersion: number; detail: string }, applied: boolean): CommandAnswer => ({
    id: deployment.id, action: kind, commandId: command.id, applied, status: o.status, cycle: o.cycle, paramsVersion: o.paramsVersion, detail: o.detail,
    ...(version !== undefined ? { version, params: req.params ?? {} } : {}),
  });
  const fromRow = (result: Record<string, unknown> | null) => ({
    status: (result?.status as DeploymentRowStatus | undefined) ?? deployment.status,
    cycle: typeof result?.cycle === 'number' ? result.cycle : null,
    paramsVersion: typeof result?.paramsVersion === 'number' ? result.paramsVersion : deployment.params_version,
    detail: String(result?.detail ?? ''),
  });
  let outcome: CommandOutcome;
  try {
    outcome = await temporalCall(deps, 'the runtime\'s answer', COMMAND_WAIT_MS, () => sendCommandUpdate(temporal.workflow, deployment.workflow_id, command.id));
  } catch (err) {
    // No answer: is the runtime gone, is Temporal unreachable, or is the runtime just not answering (worker down)?
    // A gRPC deadline alone cannot tell the last two apart, so ask Temporal about the workflow, briefly.
    const why = err instanceof WorkflowNotFoundError ? 'gone' : temporalUnreachable(err) ? 'unreachable' : await probe(deps, deployment.workflow_id);
    if (why === 'gone') {
      await cancelCommand(db, command.id, 'api', 'the runtime workflow is not running');
      await inTransaction(db, async (tx) => {
        await setDeploymentRowStatus(tx, deployment.id, 'stopped', `runtime workflow not running (seen on ${kind})`);
        await insertAudit(tx, 'api', 'deployment.stopped', deployment.id, { reason: `runtime workflow not running (seen on ${kind})` });
      });
      throw conflict(`deployment ${deployment.id} has no running runtime; it is now recorded as stopped`);
    }
    if (why === 'unreachable') {
      const after = await cancelCommand(db, command.id, 'api', 'Temporal was unreachable; nothing was sent');
      if (after?.state === 'applied') return answer(fromRow(after.result), true);
      if (after?.state === 'refused') throw conflict(`deployment ${deployment.id}: ${kind} refused by the runtime: ${fromRow(after.result).detail}`);
      log.error({ err: { message: (err as Error).message, name: (err as Error).name }, deploymentId: deployment.id, commandId: command.id }, `${kind}: Temporal unreachable`);
      throw unavailable(`could not ${kind} the deployment: Temporal is unavailable; nothing changed, retry later`);
    }
    // Reachable but no answer in time (worker down or busy): recorded, and applied when the runtime gets to it.
    log.warn({ deploymentId: deployment.id, commandId: command.id, err: { message: (err as Error).message } }, `${kind} recorded; the runtime has not answered yet`);
    const now = await getDeployment(db, deployment.id);
    return answer({ status: now?.status ?? deployment.status, cycle: null, paramsVersion: now?.params_version ?? deployment.params_version, detail: 'recorded; the runtime did not answer in time and applies it when it gets the message or finds it at its next cycle' }, false);
  }
  if (outcome.state === 'refused') throw conflict(`deployment ${deployment.id}: ${kind} refused by the runtime: ${outcome.detail}`);
  log.info({ deploymentId: deployment.id, commandId: command.id, kind, by: req.by, status: outcome.status, cycle: outcome.cycle }, 'deployment command applied');
  return answer(outcome, true);
}

/** Whether the runtime's workflow is there (running), gone, or Temporal does not answer at all. */
async function probe(deps: ServiceDeps, workflowId: string): Promise<'running' | 'gone' | 'unreachable'> {
  try {
    const d = await temporalCall(deps, 'describe', PROBE_MS, () => deps.temporal.workflow.getHandle(workflowId).describe());
    return d.status.name === 'RUNNING' ? 'running' : 'gone';
  } catch (err) {
    return err instanceof WorkflowNotFoundError ? 'gone' : 'unreachable';
  }
}
