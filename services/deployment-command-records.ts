import { randomUUID } from 'node:crypto';
import type { WorkflowClient } from '@temporalio/client';
import { insertAudit } from '../db/sql/audit';
import { getCommand, insertCommand, nextParamsVersion, settleCommand, type CommandRow } from '../db/sql/deployment-commands';
import { lockDeployment, type DeploymentRow } from '../db/sql/deployments';
import { inTransaction, type ConnectionPool } from '../db/sql/queryable';
import type { CommandKind } from '../domain/deployment/commands';
import { deploymentCommandSignal, deploymentCommandUpdate, type CommandOutcome } from '../workflows/deployment/messages';

/**
 * The steps of a deployment command (services/deployment-commands.ts puts them together for the API and every
 * tool; the history recorders and tests also take them one by one): record it and its audit row under the
 * deployment's row lock and COMMIT, then tell the runtime the command's id. The runtime applies only what it finds
 * recorded, so the order (record, commit, message) is what makes a command count.
 */
export interface CommandRequest {
  deploymentId: string;
  kind: CommandKind;
  by: string;
  reason?: string;
  /** params commands: the validated parameters (the version is assigned here, max + 1 under the row lock) */
  params?: Record<string, number | boolean>;
}

export interface RecordedCommand {
  command: CommandRow;
  /** the deployment's row as it was under the lock */
  deployment: DeploymentRow;
}

/**
 * Records a command (state 'recorded') with its audit row `deployment.<kind>`, in one transaction that holds the
 * deployment's row lock; `check` may refuse (throw) on what the row says. Undefined when the deployment does not exist.
 */
export async function recordCommand(pool: ConnectionPool, req: CommandRequest, check: (d: DeploymentRow) => void = () => undefined): Promise<RecordedCommand | undefined> {
  return inTransaction(pool, async (tx) => {
    const deployment = await lockDeployment(tx, req.deploymentId);
    if (!deployment) return undefined;
    check(deployment);
    const id = randomUUID();
    const payload: Record<string, unknown> = req.reason ? { reason: req.reason } : {};
    if (req.kind === 'params') Object.assign(payload, { version: await nextParamsVersion(tx, deployment.id), params: req.params ?? {} });
    const command = await insertCommand(tx, { id, deploymentId: deployment.id, kind: req.kind, payload, requestedBy: req.by });
    await insertAudit(tx, req.by, `deployment.${req.kind}`, deployment.id, { commandId: id, ...payload, statusWhenRecorded: deployment.status });
    return { command, deployment };
  });
}

/** Tells the runtime and waits for its answer (an update; the same command id dedupes a retried call). */
export async function sendCommandUpdate(workflows: WorkflowClient, workflowId: string, commandId: string): Promise<CommandOutcome> {
  return workflows.getHandle(workflowId).executeUpdate(deploymentCommandUpdate, { args: [{ commandId }], updateId: commandId });
}

/** Tells the runtime without waiting (a signal). */
export async function sendCommandSignal(workflows: WorkflowClient, workflowId: string, commandId: string): Promise<void> {
  await workflows.getHandle(workflowId).signal(deploymentCommandSignal, { commandId });
}

/**
 * Takes back a command the runtime was never told about (recorded -> cancelled), with an audit row. Returns the
 * command as it is afterwards: 'cancelled', or 'applied' / 'refused' when the runtime got to it first.
 */
export async function cancelCommand(pool: ConnectionPool, commandId: string, by: string, why: string): Promise<CommandRow | undefined> {
  return inTransaction(pool, async (tx) => {
    const moved = await settleCommand(tx, commandId, 'cancelled', { detail: why });
    if (moved) await insertAudit(tx, by, `deployment.${moved.kind}.cancelled`, moved.deployment_id, { commandId, reason: why });
    return moved ?? getCommand(tx, commandId);
  });
}
