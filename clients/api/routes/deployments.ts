import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  DEPLOYMENT_STATUSES,
  getDeployment,
  getDeploymentParams,
  insertDeployment,
  insertDeploymentParams,
  listDeployments,
  setDeploymentRowStatus,
  type DeploymentRow,
} from '../../../db/sql/deployments';
import { insertAudit } from '../../../db/sql/audit';
import { recentCycles } from '../../../db/sql/deployment-cycles';
import { positionsFromFills } from '../../../db/sql/fills';
import { getFeed } from '../../../db/sql/market-data-feeds';
import { inTransaction } from '../../../db/sql/queryable';
import { validateStrategyParams } from '../../../domain/backtest/settings';
import { DeploymentSpecInputSchema, parseDeploymentSpec } from '../../../domain/deployment/spec';
import { deploymentStateQuery, type DeploymentState, type DeploymentWorkflowInput, type ReplayClockSpec } from '../../../workflows/deployment/messages';
import type { deploymentWorkflow } from '../../../workflows/deployment/workflow';
import { deploymentStartOptions } from '../../deployment-start';
import type { ApiDeps } from '../app';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import { BlockerSchema, deploymentBlockers } from '../deployment-blockers';
import { badRequest, errorResponses, notFound, unavailable } from '../errors';
import type { InflightCalls } from '../inflight';
import { IdParamsSchema, iso, PageQuerySchema } from '../schemas';
import { withTimeout } from '../timeout';
import { registerDeploymentCommandRoutes } from './deployment-commands';

const CALL_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 3_000;
const RECENT_CYCLES = 20;
const MAX_REPLAY_SPEED = 3600;

/** Account ids as the deployment spec accepts them. */
export const AccountIdSchema = z
  .string({ error: 'accountId must be a string' })
  .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'accountId is 1..64 characters of A-Z a-z 0-9 . _ -' })
  .describe('broker account id');


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

const StatusSchema = z.enum(DEPLOYMENT_STATUSES);
const LinksSchema = z.object({ self: z.string(), temporalUi: z.string() });

const DeploymentSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  name: z.string().nullable(),
  status: StatusSchema.describe('as recorded in Postgres, written by the runtime as it applies commands (stopping: a stop waits for an order to be resolved; failed: a configuration error ended it)'),
  statusReason: z.string().nullable().describe('why it is in this status (a pause\'s or stop\'s reason, a failure\'s cause)'),
  accountId: z.string(),
  broker: z.string(),
  strategy: z.string(),
  symbols: z.array(z.string()),
  timeframe: z.string(),
  paramsVersion: z.number().int(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  links: LinksSchema,
});

const InflightOrderSchema = z.object({
  clientOrderId: z.string(),
  symbol: z.string(),
  side: z.string(),
  qty: z.number(),
  since: z.string(),
  resolving: z.boolean().describe('a stop, pause or flatten cancelled it: it is being resolved (cancelled if never sent, else looked up at the broker)'),
});

const StateSchema = z.object({
  source: z.enum(['workflow', 'row']).describe('workflow: live from the workflow query; row: the workflow did not answer (or has ended), from Postgres'),
  status: StatusSchema,
  statusReason: z.string().nullable(),
  cycle: z.number().int().nullable(),
  paramsVersion: z.number().int(),
  breaker: z.string().nullable(),
  nextBarClose: z.string().nullable(),
  blockedBy: z.array(z.string()).describe('unresolved reconciliation findings that block new orders (see /v1/reconciliation/findings)'),
  waitingOn: z.string().nullable().describe('what the runtime is doing or waiting for right now'),
  inflightOrder: InflightOrderSchema.nullable(),
  pendingMessages: z.number().int().nullable().describe('messages and recorded commands the runtime has not worked through yet'),
});

const PositionSchema = z.object({
  symbol: z.string(),
  qty: z.number(),
  cashFlow: z.number().describe('sum over fills: sells add, buys subtract'),
  fills: z.number().int(),
});

const CycleSchema = z.object({
  cycle: z.number().int(),
  symbol: z.string(),
  barClose: z.string(),
  action: z.string(),
  reason: z.string().nullable(),
  signal: z.number().nullable(),
  indicators: z.record(z.string(), z.unknown()),
  risk: z.record(z.string(), z.unknown()).nullable(),
  clientOrderIds: z.array(z.string()),
  paramsVersion: z.number().int(),
  positionQty: z.number().nullable(),
  pnl: z.number().nullable().describe('the deployment\'s PnL recorded with the cycle'),
  latencyMs: z.number().nullable(),
  at: z.string(),
});

const DeploymentDetailSchema = DeploymentSchema.extend({
  spec: z.record(z.string(), z.unknown()).describe('the validated spec the deployment started with (defaults filled in)'),
  params: z.record(z.string(), z.union([z.number(), z.boolean()])).describe('the strategy parameters of paramsVersion'),
  state: StateSchema,
  blockers: z.array(BlockerSchema).describe('what keeps it from trading or from finishing a stop: the kill switch, an open broker circuit breaker, orders the broker may or may not have, reconciliation findings'),
  positions: z.array(PositionSchema),
  cycles: z.array(CycleSchema).describe(`the latest ${RECENT_CYCLES} cycle audit rows, newest first`),
});

const CreatedSchema = z.object({ id: z.uuid(), workflowId: z.string(), status: z.literal('running'), links: LinksSchema });

const ListQuerySchema = PageQuerySchema.extend({
  status: StatusSchema.optional(),
  accountId: AccountIdSchema.optional(),
});

/** Deployments: start a runtime workflow (io queue), list, inspect with live state, control it and change its params. */
export function deploymentRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { config, db, temporal } = deps;
  const uiBase = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  const links = (d: { id: string; workflow_id: string }) => ({
    self: `/v1/deployments/${d.id}`,
    temporalUi: `${uiBase}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(d.workflow_id)}`,
  });
  const view = (d: DeploymentRow) => ({
    id: d.id,
    workflowId: d.workflow_id,
    name: d.name,
    status: d.status,
    statusReason: d.status_reason,
    accountId: d.account_id,
    broker: d.broker,
    strategy: d.strategy,
    symbols: d.spec.symbols,
    timeframe: d.spec.timeframe,
    paramsVersion: d.params_version,
    createdBy: d.created_by,
    createdAt: iso(d.created_at)!,
    updatedAt: iso(d.updated_at)!,
    links: links(d),
  });
  /** A Temporal call with a deadline, tracked so closing the app waits for it. */
  const temporalCall = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    withTimeout(inflight.track(temporal.withDeadline(Date.now() + CALL_TIMEOUT_MS, fn)), CALL_TIMEOUT_MS + 1_000, `${what} timed out`);
  const temporalDown = (log: FastifyBaseLogger, err: unknown, what: string, deploymentId: string) => {
    log.error({ err: { message: (err as Error).message, name: (err as Error).name }, deploymentId }, `${what} failed`);
    return unavailable(`could not ${what}: Temporal is unavailable; retry later`);
  };

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
        const principal = principalOf(request);
        const { name, replay, ...specInput } = request.body;
        const spec = parseDeploymentSpec(specInput);
        const id = randomUUID();
        const workflowId = `deployment-${id}`;
        let clock: ReplayClockSpec | undefined = replay ? { dataStartMs: Date.parse(replay.from), wallStartMs: Date.now(), speed: replay.speed } : undefined;
        if (spec.dataProvider) {
          // A live feed: the runtime runs on the feed's clock (a replay feed's data time), so both agree on every bar close.
          const feed = await getFeed(db, spec.dataProvider, spec.timeframe);
          if (!feed) throw badRequest(`dataProvider: no ${spec.dataProvider} ${spec.timeframe} feed runs on this platform (MARKET_DATA_FEEDS)`);
          if (replay) throw badRequest('replay: a deployment on a live feed runs on the feed\'s clock; leave replay out');
          clock = feed.clock ?? undefined;
        }

        await inTransaction(db, async (tx) => {
          await insertDeployment(tx, { id, workflowId, spec, createdBy: principal.name });
          await insertDeploymentParams(tx, id, 1, spec.params, principal.name);
          await insertAudit(tx, principal.name, 'deployment.create', id, { name: name ?? null, workflowId, spec, ...(replay ? { replay } : {}) });
        });

        const input: DeploymentWorkflowInput = { deploymentId: id, spec, paramsVersion: 1, ...(clock ? { clock } : {}) };
        try {
          await temporalCall('starting the workflow', () =>
            temporal.workflow.start<typeof deploymentWorkflow>('deploymentWorkflow', deploymentStartOptions(input)),
          );
        } catch (err) {
          const failure = temporalDown(request.log, err, 'start the deployment', id);
          await inTransaction(db, async (tx) => {
            await setDeploymentRowStatus(tx, id, 'failed', 'could not start the runtime workflow (Temporal unavailable)');
            await insertAudit(tx, 'api', 'deployment.start-failed', id, { error: 'could not start the workflow (Temporal unavailable)' });
          }).catch(() => undefined);
          throw failure;
        }
        request.log.info({ deploymentId: id, workflowId, strategy: spec.strategy, accountId: spec.accountId, by: principal.name }, 'deployment started');
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
        return { deployments: rows.map(view), limit, offset };
      },
    );

    app.get(
      '/v1/deployments/:id',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'One deployment: spec, current params, live state, positions and the latest cycle audit rows',
          tags: ['deployments'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          response: { 200: DeploymentDetailSchema, ...errorResponses(400, 401, 403, 404, 503) },
        },
      },
      async (request) => {
        const d = await getDeployment(db, request.params.id);
        if (!d) throw notFound(`no deployment ${request.params.id}`);
        const ended = d.status === 'stopped' || d.status === 'failed';
        const [params, positions, cycles, blockers, live] = await Promise.all([
          getDeploymentParams(db, d.id, d.params_version),
          positionsFromFills(db, d.id),
          recentCycles(db, d.id, RECENT_CYCLES),
          deploymentBlockers({ db, redis: deps.redis, config, log: request.log }, d),
          ended
            ? undefined
            : withTimeout(
                inflight.track(temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => temporal.workflow.getHandle(d.workflow_id).query(deploymentStateQuery))),
                QUERY_TIMEOUT_MS + 500,
                'state query timed out',
              ).catch((err: Error) => {
                request.log.debug({ deploymentId: d.id, err: { message: err.message } }, 'state query failed; using the row');
                return undefined;
              }),
        ]);
        const s: DeploymentState | undefined = live;
        const state: z.infer<typeof StateSchema> = s
          ? {
              source: 'workflow',
              status: s.status,
              statusReason: s.statusReason,
              cycle: s.cycle,
              paramsVersion: s.paramsVersion,
              breaker: s.breaker,
              nextBarClose: s.nextBarClose === null ? null : new Date(s.nextBarClose).toISOString(),
              blockedBy: s.blockedBy ?? [],
              waitingOn: s.waitingOn,
              inflightOrder: s.inflightOrder ? { ...s.inflightOrder, since: new Date(s.inflightOrder.sinceMs).toISOString() } : null,
              pendingMessages: s.pendingMessages,
            }
          : { source: 'row', status: d.status, statusReason: d.status_reason, cycle: cycles[0]?.cycle ?? null, paramsVersion: d.params_version, breaker: null, nextBarClose: null, blockedBy: [], waitingOn: null, inflightOrder: null, pendingMessages: null };
        return {
          ...view(d),
          spec: d.spec as unknown as Record<string, unknown>,
          params: params ?? d.spec.params,
          state,
          blockers,
          positions: positions.map((p) => ({ symbol: p.symbol, qty: p.qty, cashFlow: p.cashFlow, fills: p.fills })),
          cycles: cycles.map(({ barClose, realizedPnl, createdAt, ...c }) => ({ ...c, barClose: iso(barClose)!, pnl: realizedPnl, at: iso(createdAt)! })),
        };
      },
    );

    registerDeploymentCommandRoutes(app, deps, inflight);
  };
}
