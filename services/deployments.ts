import { randomUUID } from 'node:crypto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { insertDeployment, insertDeploymentParams, setDeploymentRowStatus } from '../db/sql/deployments';
import { inTransaction } from '../db/sql/queryable';
import { insertAudit } from '../db/sql/audit';
import type { DeploymentSpec, ReplayClockSpec } from '../domain/deployment/spec';
import { deploymentStateQuery, type DeploymentState, type DeploymentWorkflowInput } from '../workflows/deployment/messages';
import type { deploymentWorkflow } from '../workflows/deployment/workflow';
import { deploymentWorkflowId, evaluatorWorkflowId } from '../workflows/workflow-ids';
import { evaluationGroupKey, evaluationTiming, initialRiskState } from '../domain/deployment/batch';
import { insertEvaluationGroup } from '../db/sql/evaluation-groups';
import { insertRiskState } from '../db/sql/deployment-risk-states';
import { logOf, type ServiceDeps } from './deps';
import { unavailable } from './errors';
import { deploymentStartOptions } from './start-options';
import { ensureEvaluatorWorkflow } from '../platform/schedules';
import { temporalCall } from './temporal-call';

const START_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 3_000;

export interface NewDeployment {
  /** validated (parseDeploymentSpec) */
  spec: DeploymentSpec;
  /** who asks (the API key's name; a tool's name) */
  by: string;
  name?: string;
  /**
   * Trade stored bars as a live feed: from `from` (data time) at `speed` x the wall clock, starting now or at
   * `wallStartMs` (tools that start many deployments give them one clock, as one exchange would)
   */
  replay?: { from: string; speed: number; wallStartMs?: number };
  /** continue-as-new after this many cycles (default 200; tests and chaos make it small to exercise it) */
  cyclesPerRun?: number;
}

export interface CreatedDeployment {
  id: string;
  workflowId: string;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof deploymentWorkflow>;
}

/**
 * How every deployment is created (the API, the runtime benchmark, chaos, tests): the row with params version 1 and
 * its audit row in one transaction, then the runtime workflow with the start options of services/start-options.ts.
 * If Temporal cannot be reached the row is recorded failed (with an audit row) and the error is `unavailable`.
 * `workflowType` is for the runtime benchmark's floor, which runs another workflow under the same start.
 */
export async function createDeployment(deps: ServiceDeps, d: NewDeployment, opts: { workflowType?: string } = {}): Promise<CreatedDeployment> {
  const id = randomUUID();
  const workflowId = deploymentWorkflowId(id);
  const { spec, by, name, replay } = d;
  const clock: ReplayClockSpec | undefined = replay ? { dataStartMs: Date.parse(replay.from), wallStartMs: replay.wallStartMs ?? Date.now(), speed: replay.speed } : undefined;
  const timing = spec.evaluation === 'batch' ? evaluationTiming(spec, clock) : undefined;
  const groupKey = timing ? evaluationGroupKey(timing) : undefined;
  await inTransaction(deps.db, async (tx) => {
    if (timing && groupKey) await insertEvaluationGroup(tx, { key: groupKey, workflowId: evaluatorWorkflowId(groupKey), timing: { ...timing } });
    await insertDeployment(tx, { id, workflowId, spec, createdBy: by, ...(clock ? { replayClock: clock } : {}), ...(groupKey ? { evaluationGroup: groupKey } : {}) });
    if (groupKey) await insertRiskState(tx, id, { ...initialRiskState(spec) });
    await insertDeploymentParams(tx, id, 1, spec.params, by);
    await insertAudit(tx, by, 'deployment.create', id, { name: name ?? null, workflowId, spec, ...(replay ? { replay: { from: replay.from, speed: replay.speed } } : {}) });
  });

  const input: DeploymentWorkflowInput = { deploymentId: id, spec, paramsVersion: 1, ...(clock ? { clock } : {}), ...(d.cyclesPerRun ? { cyclesPerRun: d.cyclesPerRun } : {}) };
  try {
    const handle = await temporalCall(deps, 'starting the workflow', START_TIMEOUT_MS, () =>
      deps.temporal.workflow.start<typeof deploymentWorkflow>(opts.workflowType ?? 'deploymentWorkflow', deploymentStartOptions(input)),
    );
    // Its group's evaluator decides its closes: started with the group's first deployment, joined by the others.
    if (groupKey) await temporalCall(deps, 'starting the evaluator', START_TIMEOUT_MS, () => ensureEvaluatorWorkflow(deps.temporal, groupKey));
    logOf(deps).info({ deploymentId: id, workflowId, strategy: spec.strategy, accountId: spec.accountId, by }, 'deployment started');
    return { id, workflowId, handle };
  } catch (err) {
    logOf(deps).error({ err: { message: (err as Error).message, name: (err as Error).name }, deploymentId: id }, 'start the deployment failed');
    await inTransaction(deps.db, async (tx) => {
      await setDeploymentRowStatus(tx, id, 'failed', 'could not start the runtime workflow (Temporal unavailable)');
      await insertAudit(tx, 'api', 'deployment.start-failed', id, { error: 'could not start the workflow (Temporal unavailable)' });
    }).catch(() => undefined);
    throw unavailable('could not start the deployment: Temporal is unavailable; retry later');
  }
}

/** The runtime's live state (its query), or undefined when it does not answer in time (the caller shows the row). */
export async function deploymentLiveState(deps: ServiceDeps, d: { id: string; workflow_id: string }): Promise<DeploymentState | undefined> {
  return temporalCall(deps, 'state query', QUERY_TIMEOUT_MS, () => deps.temporal.workflow.getHandle(d.workflow_id).query(deploymentStateQuery)).catch((err: Error) => {
    logOf(deps).debug({ deploymentId: d.id, err: { message: err.message } }, 'state query failed; using the row');
    return undefined;
  });
}
