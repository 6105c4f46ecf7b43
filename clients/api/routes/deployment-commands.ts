import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getDeployment } from '../../../db/sql/deployments';
import { validateStrategyParams } from '../../../domain/backtest/settings';
import { CONTROL_KINDS, DEPLOYMENT_STATUSES, type ControlKind } from '../../../domain/deployment/commands';
import { issueDeploymentCommand } from '../../../services/deployment-commands';
import type { InflightCalls } from '../../../services/temporal-call';
import { principalOf, ROLES_ADMIN, ROLES_TRADER } from '../auth';
import type { ApiDeps } from '../deps';
import { badRequest, errorResponses, notFound, zodIssues } from '../errors';
import { IdParamsSchema } from '../schemas';

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

/**
 * The command routes: POST /v1/deployments/:id/{pause,resume,stop,flatten,params,breaker-reset}, each through
 * issueDeploymentCommand (services/deployment-commands.ts): recorded and committed, then sent to the runtime, whose
 * answer (within 5 s) is the 202. Refused (by the row's status or the runtime): 409. No answer in time: 202 with
 * applied: false. Temporal unreachable: 503, the command cancelled. The runtime gone: 409, the row recorded stopped.
 */
export function registerDeploymentCommandRoutes(app: FastifyInstance, deps: ApiDeps, inflight: InflightCalls): void {
  const { db, temporal } = deps;
  const services = { db, temporal, inflight };
  const api = app.withTypeProvider<ZodTypeProvider>();

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
        const out = await issueDeploymentCommand({ ...services, log: request.log }, { deploymentId: request.params.id, kind: action, by: principalOf(request).name, ...(reason ? { reason } : {}) });
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
      const out = await issueDeploymentCommand({ ...services, log: request.log }, { deploymentId: request.params.id, kind: 'breaker-reset', by: principalOf(request).name, reason: request.body.reason });
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
      const out = await issueDeploymentCommand({ ...services, log: request.log }, { deploymentId: existing.id, kind: 'params', by: principalOf(request).name, params });
      return reply.code(202).send(out as z.infer<typeof ParamsAnswerSchema>);
    },
  );
}
