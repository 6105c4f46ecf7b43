import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listDeployments } from '../../../db/sql/deployments';
import { reduceOnlyDeployments } from '../../../db/sql/eod-reduce-only';
import { getFeed } from '../../../db/sql/market-data-feeds';
import { validateStrategyParams } from '../../../domain/backtest/settings';
import { DeploymentSpecInputSchema, parseDeploymentSpec } from '../../../domain/deployment/spec';
import { createDeployment } from '../../../services/deployments';
import type { InflightCalls } from '../../../services/temporal-call';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import type { ApiDeps } from '../deps';
import { badRequest, errorResponses } from '../errors';
import { AccountIdSchema, PageQuerySchema } from '../schemas';
import { registerDeploymentCommandRoutes } from './deployment-commands';
import { registerDeploymentCompareRoute } from './deployment-compare';
import { registerDeploymentCyclesRoute } from './deployment-cycles';
import { registerDeploymentDetailRoute } from './deployment-detail';
import { DeploymentSchema, deploymentViews, LinksSchema, StatusSchema } from './deployment-views';

const MAX_REPLAY_SPEED = 3600;

const ReplaySchema = z
  .strictObject({
    from: z.iso.datetime({ offset: true, error: 'replay.from must be an ISO date-time with a zone, e.g. 2024-03-01T14:30:00Z' }),
    speed: z
      .number({ error: 'replay.speed must be a number' })
      .min(1, { error: 'replay.speed must be at least 1' })
      .max(MAX_REPLAY_SPEED, { error: `replay.speed must be at most ${MAX_REPLAY_SPEED}` }),
  })
  .describe('replay stored bars as a live feed: start at `from` (data time) and run `speed` times faster than the wall clock');

/** POST /v1/deployments body: a deployment spec, plus an optional display name and replay clock. */
export const DeploymentRequestSchema = z
  .strictObject({
    ...DeploymentSpecInputSchema.shape,
    name: z.string({ error: 'name must be a string' }).trim().min(1, { error: 'name must not be empty' }).max(100, { error: 'name is at most 100 characters' }).optional(),
    replay: ReplaySchema.optional(),
  })
  .superRefine((body, ctx) => {
    try {
      validateStrategyParams(body.strategy, body.params);
    } catch (err) {
      if (!(err instanceof z.ZodError)) throw err;
      for (const issue of err.issues) ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[] as (string | number)[], message: issue.message });
    }
    if (body.replay && Date.parse(body.replay.from) >= Date.now()) {
      ctx.addIssue({ code: 'custom', path: ['replay', 'from'], message: 'replay.from must be in the past (it is the time of the stored bars to start at)' });
    }
  });

const CreatedSchema = z.object({ id: z.uuid(), workflowId: z.string(), status: z.literal('running'), links: LinksSchema });

const ListQuerySchema = PageQuerySchema.extend({
  status: StatusSchema.optional(),
  accountId: AccountIdSchema.optional(),
});

/** Deployments: start a runtime workflow (io queue), list, inspect with live state, control it and change its params. */
export function deploymentRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { db, temporal } = deps;
  const services = { db, temporal, inflight };
  const { links, view } = deploymentViews(deps.config);

  return async (app) => {
    app.post(
      '/v1/deployments',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: 'Start a deployment (one long-running runtime workflow on the io queue, workflow id deployment-<id>)',
          description:
            'The spec is validated (strategy params per strategy), recorded with params version 1 and an audit row, then the runtime starts. ' +
            'With `replay`, the runtime trades stored bars from `replay.from` at `replay.speed` x real time.',
          tags: ['deployments'],
          security: [{ bearer: [] }],
          body: DeploymentRequestSchema,
          response: { 202: CreatedSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
        },
      },
      async (request, reply) => {
        const { name, replay: requested, ...specInput } = request.body;
        const spec = parseDeploymentSpec(specInput);
        let replay: Parameters<typeof createDeployment>[1]['replay'] = requested;
        if (spec.dataProvider) {
          // A live feed: the runtime runs on the feed's clock (a replay feed's data time), so both agree on every bar close.
          const feed = await getFeed(db, spec.dataProvider, spec.timeframe);
          if (!feed) throw badRequest(`dataProvider: no ${spec.dataProvider} ${spec.timeframe} feed runs on this platform (MARKET_DATA_FEEDS)`);
          if (requested) throw badRequest("replay: a deployment on a live feed runs on the feed's clock; leave replay out");
          replay = feed.clock ? { from: new Date(feed.clock.dataStartMs).toISOString(), speed: feed.clock.speed, wallStartMs: feed.clock.wallStartMs } : undefined;
        }
        const { id, workflowId } = await createDeployment({ ...services, log: request.log }, { spec, by: principalOf(request).name, name, replay });
        return reply.code(202).send({ id, workflowId, status: 'running' as const, links: links({ id, workflow_id: workflowId }) });
      },
    );

    app.get(
      '/v1/deployments',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Deployments, newest first (filter by status and account)',
          tags: ['deployments'],
          security: [{ bearer: [] }],
          querystring: ListQuerySchema,
          response: { 200: z.object({ deployments: z.array(DeploymentSchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, status, accountId } = request.query;
        const rows = await listDeployments(db, { status, accountId }, limit, offset);
        const exiting = await reduceOnlyDeployments(db, rows.map((d) => ({ id: d.id, accountId: d.account_id })));
        return { deployments: rows.map((d) => view(d, exiting.has(d.id))), limit, offset };
      },
    );

    registerDeploymentDetailRoute(app, deps, inflight);
    registerDeploymentCompareRoute(app, deps);
    registerDeploymentCyclesRoute(app, deps);
    registerDeploymentCommandRoutes(app, deps, inflight);
  };
}
