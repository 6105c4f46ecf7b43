import { WorkflowNotFoundError } from '@temporalio/common';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getDeployment, setDeploymentRowStatus, type DeploymentRow, type DeploymentRowStatus } from '../../../db/sql/deployments';
import { inTransaction } from '../../../db/sql/queryable';
import { insertAudit } from '../../../db/sql/trading-halts';
import { validateStrategyParams } from '../../../domain/backtest/settings';
import { CONTROL_KINDS, DEPLOYMENT_STATUSES, type CommandKind, type ControlKind } from '../../../domain/deployment/commands';
import type { CommandOutcome } from '../../../workflows/deployment/messages';
import { cancelCommand, recordCommand, sendCommandUpdate } from '../../deployment-commands';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ADMIN, ROLES_TRADER } from '../auth';
import { badRequest, conflict, errorResponses, notFound, unavailable, zodIssues } from '../errors';
import type { InflightCalls } from '../inflight';
import { IdParamsSchema } from '../schemas';
import { withTimeout } from '../timeout';

/** How long the API waits for the runtime's answer before it answers 202 with applied: false. */
export const COMMAND_WAIT_MS = 5_000;
/** How long a look at the workflow may take when the runtime did not answer (reachable or not?). */
const PROBE_MS = 2_000;

const LIVE: readonly DeploymentRowStatus[] = ['running', 'paused', 'blocked'];
/** The statuses from which the API records each command (the runtime checks again when it applies it). */
const ALLOWED: Record<CommandKind, { from: readonly DeploymentRowStatus[]; refuse: string }> = {
  pause: { from: ['running', 'blocked'], refuse: 'only a running deployment can be paused' },
  resume: { from: ['paused'], refuse: 'only a paused deployment can be resumed' },
  stop: { from: LIVE, refuse: 'it is not running' },
  flatten: { from: LIVE, refuse: 'its runtime has ended; nothing can be flattened by it' },
  params: { from: LIVE, refuse: 'its params can no longer change' },
  'breaker-reset': { from: LIVE, refuse: 'it has no breaker to reset' },
};

const ReasonBodySchema = z.strictObject({ reason: z.string({ error: 'reason must be a string' }).trim().min(1).max(500, { error: 'reason is at most 500 characters' }).optional() }).nullish();
const BreakerResetBodySchema = z.strictObject({
  reason: z.string({ error: 'reason must be a string' }).trim().min(1, { error: 'reason is required' }).max(500, { error: 'reason is at most 500 characters' }),
});
const ParamsValueSchema = z.record(z.string(), z.union([z.number(), z.boolean()]), { error: 'params must be an object of numbers or booleans' });
const ParamsBodySchema = z.strictObject({ params: ParamsValueSchema.describe('the complete strategy parameters (missing ones take the strategy defaults)') });

const CommandAnswerSchema = z.object({
  id: z.uuid(),
  action: z.enum(['pause', 'resume', 'stop', 'flatten', 'params', 'breaker-reset']),
  commandId: z.uuid().describe('the recorded command (deployment_commands); the message to the runtime carries only this id'),
  applied: z.boolean().describe('true: the runtime applied it (status, cycle and paramsVersion are its answer); false: recorded, and the runtime did not answer in time: it applies it when it gets the message or finds the command at its next cycle'),
  status: z.enum(DEPLOYMENT_STATUSES).describe('the deployment\'s status after the command (applied), or as recorded now (not yet applied)'),
  cycle: z.number().int().nullable().describe('the runtime\'s cycle when it applied the command'),
  paramsVersion: z.number().int(),
  detail: z.string(),
});
const ParamsAnswerSchema = CommandAnswerSchema.extend({ version: z.number().int().describe('the params version the API assigned'), params: ParamsValueSchema });

/** The runtime's workflow no longer exists (completed, or terminated from outside). */
class RuntimeGone extends Error {}

/** gRPC UNAVAILABLE anywhere in the cause chain: Temporal could not be reached (a deadline alone is not that). */
function temporalUnreachable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 8; depth++, e = e.cause as typeof e) {
    if (e.code === 14) return true;
    if (typeof e.message === 'string' && /\b(UNAVAILABLE|ECONNREFUSED|Failed to connect)\b/.test(e.message)) return true;
  }
  return false;
}

/**
 * The command routes: POST /v1/deployments/:id/{pause,resume,stop,flatten,params,breaker-reset}. Each records its
 * command (and audit row) under the deployment's row lock and commits, then sends the runtime an update carrying the
 * command's id and waits up to COMMAND_WAIT_MS for its answer. Applied: 202 with the runtime's answer. Refused by
 * the runtime: 409 with its reason. No answer in time: 202 with applied: false (the command stays recorded and is
 * applied later). Temporal unreachable: the command is cancelled (unless the runtime applied it meanwhile) and the
 * answer is 503. The runtime gone: the command is cancelled, the row recorded as stopped, 409.
 */
export function registerDeploymentCommandRoutes(app: FastifyInstance, deps: ApiDeps, inflight: InflightCalls): void {
  const { db, temporal } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();

  const issue = async (log: FastifyBaseLogger, deploymentId: string, kind: CommandKind, by: string, body: { reason?: string; params?: Record<string, number | boolean> }) => {
    const rule = ALLOWED[kind];
    const recorded = await recordCommand(db, { deploymentId, kind, by, ...body }, (d: DeploymentRow) => {
      if (!rule.from.includes(d.status)) throw conflict(`deployment ${d.id} is ${d.status}: ${kind} refused (${rule.refuse})`);
    });
    if (!recorded) throw notFound(`no deployment ${deploymentId}`);
    const { command, deployment } = recorded;
    const version = kind === 'params' ? Number(command.payload.version) : undefined;
    const answer = (o: { status: DeploymentRowStatus; cycle: number | null; paramsVersion: number; detail: string }, applied: boolean) => ({
      id: deployment.id, action: kind, commandId: command.id, applied, status: o.status, cycle: o.cycle, paramsVersion: o.paramsVersion, detail: o.detail,
      ...(version !== undefined ? { version, params: body.params ?? {} } : {}),
    });
    const fromRow = (result: Record<string, unknown> | null) => ({
      status: (result?.status as DeploymentRowStatus | undefined) ?? deployment.status,
      cycle: typeof result?.cycle === 'number' ? result.cycle : null,
      paramsVersion: typeof result?.paramsVersion === 'number' ? result.paramsVersion : deployment.params_version,
      detail: String(result?.detail ?? ''),
    });
    let outcome: CommandOutcome;
    try {
      outcome = await withTimeout(
        inflight.track(temporal.withDeadline(Date.now() + COMMAND_WAIT_MS, () => sendCommandUpdate(temporal.workflow, deployment.workflow_id, command.id))),
        COMMAND_WAIT_MS + 1_000,
        'the runtime did not answer in time',
      );
    } catch (err) {
      // No answer: is the runtime gone, is Temporal unreachable, or is the runtime just not answering (worker down)?
      // A gRPC deadline alone cannot tell the last two apart, so ask Temporal about the workflow, briefly.
      const why = err instanceof WorkflowNotFoundError ? 'gone' : temporalUnreachable(err) ? 'unreachable' : await probe(deployment.workflow_id);
      if (why === 'gone') {
        await cancelCommand(db, command.id, 'api', 'the runtime workflow is not running');
        await inTransaction(db, async (tx) => {
          await setDeploymentRowStatus(tx, deployment.id, 'stopped', `runtime workflow not running (seen on ${kind})`);
          await insertAudit(tx, 'api', 'deployment.stopped', deployment.id, { reason: `runtime workflow not running (seen on ${kind})` });
        });
        throw new RuntimeGone(`deployment ${deployment.id} has no running runtime; it is now recorded as stopped`);
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
    log.info({ deploymentId: deployment.id, commandId: command.id, kind, by, status: outcome.status, cycle: outcome.cycle }, 'deployment command applied');
    return answer(outcome, true);
  };
  /** Whether the runtime's workflow is there (running), gone, or Temporal does not answer at all. */
  const probe = async (workflowId: string): Promise<'running' | 'gone' | 'unreachable'> => {
    try {
      const d = await withTimeout(
        inflight.track(temporal.withDeadline(Date.now() + PROBE_MS, () => temporal.workflow.getHandle(workflowId).describe())),
        PROBE_MS + 500,
        'describe timed out',
      );
      return d.status.name === 'RUNNING' ? 'running' : 'gone';
    } catch (err) {
      return err instanceof WorkflowNotFoundError ? 'gone' : 'unreachable';
    }
  };
  const gone = (err: unknown): never => {
    if (err instanceof RuntimeGone) throw conflict(err.message);
    throw err;
  };

  for (const action of CONTROL_KINDS as readonly ControlKind[]) {
    api.post(
      `/v1/deployments/:id/${action}`,
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a deployment (a command recorded and audited, then applied by its runtime)`,
          tags: ['deployments'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          body: ReasonBodySchema,
          response: { 202: CommandAnswerSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request, reply) => {
        const reason = request.body?.reason;
        const out = await issue(request.log, request.params.id, action, principalOf(request).name, reason ? { reason } : {}).catch(gone);
        return reply.code(202).send(out);
      },
    );
  }

  api.post(
    '/v1/deployments/:id/breaker-reset',
    {
      config: { roles: ROLES_ADMIN },
      schema: {
        summary: 'Reset the latched drawdown breaker (admin only; a command recorded and audited, then applied by the runtime)',
        description: 'The equity peak is re-based to the current equity. A reset sent to the runtime by hand, without a recorded command, changes nothing and leaves a "forged" audit row.',
        tags: ['deployments'],
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        body: BreakerResetBodySchema,
        response: { 202: CommandAnswerSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const out = await issue(request.log, request.params.id, 'breaker-reset', principalOf(request).name, { reason: request.body.reason }).catch(gone);
      request.log.warn({ deploymentId: out.id, commandId: out.commandId }, 'breaker reset');
      return reply.code(202).send(out);
    },
  );

  api.post(
    '/v1/deployments/:id/params',
    {
      config: { roles: ROLES_TRADER },
      schema: {
        summary: "Change a deployment's strategy parameters (a new params version assigned by the API, recorded, audited, applied by the runtime from its next cycle)",
        tags: ['deployments'],
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        body: ParamsBodySchema,
        response: { 202: ParamsAnswerSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const existing = await getDeployment(db, request.params.id);
      if (!existing) throw notFound(`no deployment ${request.params.id}`);
      let params: Record<string, number | boolean>;
      try {
        params = validateStrategyParams(existing.spec.strategy, request.body.params);
      } catch (err) {
        if (!(err instanceof z.ZodError)) throw err;
        throw badRequest(`invalid params for strategy ${existing.spec.strategy}`, zodIssues('body', err.issues));
      }
      const out = await issue(request.log, existing.id, 'params', principalOf(request).name, { params }).catch(gone);
      return reply.code(202).send(out as z.infer<typeof ParamsAnswerSchema>);
    },
  );
}
