import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
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
  lockDeployment,
  maxParamsVersion,
  recentCycles,
  setDeploymentParamsVersion,
  setDeploymentRowStatus,
  type DeploymentRow,
  type DeploymentRowStatus,
} from '../../../db/sql/deployments';
import { positionsFromFills } from '../../../db/sql/fills';
import { inTransaction } from '../../../db/sql/queryable';
import { insertAudit } from '../../../db/sql/trading-halts';
import { validateStrategyParams } from '../../../domain/backtest/settings';
import { DeploymentSpecInputSchema, parseDeploymentSpec } from '../../../domain/deployment/spec';
import {
  deploymentControlSignal,
  deploymentStateQuery,
  resetBreakerSignal,
  updateDeploymentParamsSignal,
  type DeploymentControl,
  type DeploymentState,
  type DeploymentWorkflowInput,
  type ReplayClockSpec,
} from '../../../workflows/deployment/messages';
import type { deploymentWorkflow } from '../../../workflows/deployment/workflow';
import { deploymentStartOptions } from '../../deployment-start';
import type { ApiDeps } from '../app';
import { principalOf, ROLES_ADMIN, ROLES_ANY, ROLES_TRADER } from '../auth';
import { badRequest, conflict, errorResponses, notFound, unavailable, zodIssues } from '../errors';
import type { InflightCalls } from '../inflight';
import { IdParamsSchema, iso, PageQuerySchema } from '../schemas';
import { withTimeout } from '../timeout';

const CALL_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 3_000;
const RECENT_CYCLES = 20;
const MAX_REPLAY_SPEED = 3600;

/** Account ids as the deployment spec accepts them. */
export const AccountIdSchema = z
  .string({ error: 'accountId must be a string' })
  .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'accountId is 1..64 characters of A-Z a-z 0-9 . _ -' })
  .describe('broker account id');

const ParamsSchema = z.record(z.string(), z.union([z.number(), z.boolean()]), { error: 'params must be an object of numbers or booleans' });

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
  status: StatusSchema.describe('as recorded in Postgres (the workflow\'s own view is under state in GET /v1/deployments/{id})'),
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

const StateSchema = z.object({
  source: z.enum(['workflow', 'row']).describe('workflow: live from the workflow query; row: the workflow did not answer (or is stopped), from Postgres'),
  status: z.enum(['running', 'paused', 'stopped', 'blocked']),
  cycle: z.number().int().nullable(),
  paramsVersion: z.number().int(),
  breaker: z.string().nullable(),
  nextBarClose: z.string().nullable(),
  blockedBy: z.array(z.string()).describe('unresolved reconciliation findings that block new orders (see /v1/reconciliation/findings)'),
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
  positions: z.array(PositionSchema),
  cycles: z.array(CycleSchema).describe(`the latest ${RECENT_CYCLES} cycle audit rows, newest first`),
});

const CreatedSchema = z.object({ id: z.uuid(), workflowId: z.string(), status: z.literal('running'), links: LinksSchema });

const ListQuerySchema = PageQuerySchema.extend({
  status: StatusSchema.optional(),
  accountId: AccountIdSchema.optional(),
});

const ReasonBodySchema = z.strictObject({ reason: z.string({ error: 'reason must be a string' }).trim().min(1).max(500, { error: 'reason is at most 500 characters' }).optional() }).nullish();

const BreakerResetBodySchema = z.strictObject({
  reason: z.string({ error: 'reason must be a string' }).trim().min(1, { error: 'reason is required' }).max(500, { error: 'reason is at most 500 characters' }),
});

const ParamsBodySchema = z.strictObject({
  params: ParamsSchema.describe('the complete strategy parameters (missing ones take the strategy defaults)'),
});

/** Which row statuses each control action applies to, and the status it leaves. */
const CONTROL: Record<DeploymentControl, { from: readonly DeploymentRowStatus[]; to: (s: DeploymentRowStatus) => DeploymentRowStatus; refuse: string }> = {
  pause: { from: ['running', 'blocked'], to: () => 'paused', refuse: 'can only pause a running deployment' },
  resume: { from: ['paused', 'blocked'], to: () => 'running', refuse: 'can only resume a paused deployment' },
  stop: { from: ['running', 'paused', 'blocked'], to: () => 'stopped', refuse: 'is already stopped' },
  flatten: { from: ['running', 'paused', 'blocked'], to: (s) => s, refuse: 'is stopped; nothing can be flattened by its runtime' },
};
const CONTROL_ACTIONS = Object.keys(CONTROL) as DeploymentControl[];

const ControlAcceptedSchema = z.object({
  id: z.uuid(),
  action: z.enum(CONTROL_ACTIONS as [DeploymentControl, ...DeploymentControl[]]),
  status: StatusSchema.describe('the recorded status after the action'),
  messageId: z.uuid().describe('id of the signal sent to the workflow'),
});

/** The deployment's runtime workflow no longer exists (completed, or terminated from outside). */
class RuntimeGone extends Error {
  constructor(readonly deploymentId: string) {
    super(`deployment ${deploymentId}: runtime workflow not running`);
  }
}

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
        const clock: ReplayClockSpec | undefined = replay ? { dataStartMs: Date.parse(replay.from), wallStartMs: Date.now(), speed: replay.speed } : undefined;

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
            await setDeploymentRowStatus(tx, id, 'stopped');
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
        const [params, positions, cycles] = await Promise.all([
          getDeploymentParams(db, d.id, d.params_version),
          positionsFromFills(db, d.id),
          recentCycles(db, d.id, RECENT_CYCLES),
        ]);
        let state: z.infer<typeof StateSchema> = { source: 'row', status: d.status, cycle: cycles[0]?.cycle_seq ?? null, paramsVersion: d.params_version, breaker: null, nextBarClose: null, blockedBy: [] };
        if (d.status !== 'stopped') {
          try {
            const s: DeploymentState = await withTimeout(
              inflight.track(temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => temporal.workflow.getHandle(d.workflow_id).query(deploymentStateQuery))),
              QUERY_TIMEOUT_MS + 500,
              'state query timed out',
            );
            state = {
              source: 'workflow',
              status: s.status,
              cycle: s.cycle,
              paramsVersion: s.paramsVersion,
              breaker: s.breaker,
              nextBarClose: s.nextBarClose === null ? null : new Date(s.nextBarClose).toISOString(),
              blockedBy: s.blockedBy ?? [],
            };
          } catch (err) {
            request.log.debug({ deploymentId: d.id, err: { message: (err as Error).message } }, 'state query failed; using the row');
          }
        }
        return {
          ...view(d),
          spec: d.spec as unknown as Record<string, unknown>,
          params: params ?? d.spec.params,
          state,
          positions: positions.map((p) => ({ symbol: p.symbol, qty: p.qty, cashFlow: p.cashFlow, fills: p.fills })),
          cycles: cycles.map((c) => ({
            cycle: c.cycle_seq,
            symbol: c.symbol,
            barClose: iso(c.bar_close)!,
            action: c.action,
            reason: c.reason,
            signal: c.signal,
            indicators: c.indicators ?? {},
            risk: c.risk,
            clientOrderIds: c.client_order_ids ?? [],
            paramsVersion: c.params_version,
            positionQty: c.position_qty,
            pnl: c.realized_pnl,
            latencyMs: c.latency_ms,
            at: iso(c.created_at)!,
          })),
        };
      },
    );

    for (const action of CONTROL_ACTIONS) {
      const rule = CONTROL[action];
      app.post(
        `/v1/deployments/:id/${action}`,
        {
          config: { roles: ROLES_TRADER },
          schema: {
            summary: `${action[0].toUpperCase()}${action.slice(1)} a deployment (a signal to its runtime workflow, recorded and audited)`,
            tags: ['deployments'],
            security: [{ bearer: [] }],
            params: IdParamsSchema,
            body: ReasonBodySchema,
            response: { 202: ControlAcceptedSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
          },
        },
        async (request, reply) => {
          const principal = principalOf(request);
          const reason = request.body?.reason;
          const messageId = randomUUID();
          // The row lock serializes control actions on one deployment; the row changes only once the signal went out.
          const outcome = await inTransaction(db, async (tx) => {
            const d = await lockDeployment(tx, request.params.id);
            if (!d) throw notFound(`no deployment ${request.params.id}`);
            if (!rule.from.includes(d.status)) throw conflict(`deployment ${d.id} is ${d.status}: ${action} refused (${rule.refuse})`);
            try {
              await temporalCall(`${action} signal`, () =>
                temporal.workflow.getHandle(d.workflow_id).signal(deploymentControlSignal, { messageId, action, by: principal.name, ...(reason ? { reason } : {}) }),
              );
            } catch (err) {
              if (!(err instanceof WorkflowNotFoundError)) throw temporalDown(request.log, err, `${action} the deployment`, d.id);
              // Its runtime has ended (or was terminated from outside): record that, then refuse.
              await setDeploymentRowStatus(tx, d.id, 'stopped');
              await insertAudit(tx, 'api', 'deployment.stopped', d.id, { reason: `runtime workflow not running (seen on ${action})` });
              return { gone: true as const, id: d.id };
            }
            const status = rule.to(d.status);
            if (status !== d.status) await setDeploymentRowStatus(tx, d.id, status);
            await insertAudit(tx, principal.name, `deployment.${action}`, d.id, { reason: reason ?? null, messageId, from: d.status, to: status });
            return { gone: false as const, id: d.id, status };
          });
          if (outcome.gone) throw conflict(`deployment ${outcome.id} has no running runtime; it is now recorded as stopped`);
          request.log.info({ deploymentId: outcome.id, action, by: principal.name, reason }, 'deployment control sent');
          return reply.code(202).send({ id: outcome.id, action, status: outcome.status, messageId });
        },
      );
    }

    app.post(
      '/v1/deployments/:id/breaker-reset',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          summary: 'Reset the latched drawdown breaker (admin only; recorded and audited before the signal, verified by the runtime)',
          description:
            'The runtime obeys the reset only when it finds this audit row (a reset signalled by hand without one leaves a "forged" audit row and changes nothing). ' +
            'The equity peak is re-based to the current equity.',
          tags: ['deployments'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          body: BreakerResetBodySchema,
          response: { 202: z.object({ id: z.uuid(), messageId: z.uuid() }), ...errorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { reason } = request.body;
        const messageId = randomUUID();
        const id = await inTransaction(db, async (tx) => {
          const d = await lockDeployment(tx, request.params.id);
          if (!d) throw notFound(`no deployment ${request.params.id}`);
          if (d.status === 'stopped') throw conflict(`deployment ${d.id} is stopped: it has no breaker to reset`);
          // Recorded first (the runtime verifies it), signalled last: a failed signal rolls the record back.
          await insertAudit(tx, principal.name, 'deployment.breaker-reset', d.id, { reason, messageId });
          try {
            await temporalCall('breaker reset signal', () => temporal.workflow.getHandle(d.workflow_id).signal(resetBreakerSignal, { messageId, by: principal.name, reason }));
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) throw conflict(`deployment ${d.id} has no running runtime`);
            throw temporalDown(request.log, err, 'reset the breaker', d.id);
          }
          return d.id;
        });
        request.log.warn({ deploymentId: id, by: principal.name, reason }, 'breaker reset sent');
        return reply.code(202).send({ id, messageId });
      },
    );

    app.post(
      '/v1/deployments/:id/params',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: 'Change a deployment\'s strategy parameters (a new params version, recorded, audited and signalled to the runtime)',
          tags: ['deployments'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          body: ParamsBodySchema,
          response: {
            202: z.object({ id: z.uuid(), version: z.number().int(), params: z.record(z.string(), z.union([z.number(), z.boolean()])), messageId: z.uuid() }),
            ...errorResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const existing = await getDeployment(db, request.params.id);
        if (!existing) throw notFound(`no deployment ${request.params.id}`);
        let params: Record<string, number | boolean>;
        try {
          params = validateStrategyParams(existing.spec.strategy, request.body.params);
        } catch (err) {
          if (!(err instanceof z.ZodError)) throw err;
          throw badRequest(`invalid params for strategy ${existing.spec.strategy}`, zodIssues('body', err.issues));
        }
        const messageId = randomUUID();
        const outcome = await inTransaction(db, async (tx) => {
          const d = await lockDeployment(tx, existing.id);
          if (!d) throw notFound(`no deployment ${existing.id}`);
          if (d.status === 'stopped') throw conflict(`deployment ${d.id} is stopped: its params can no longer change`);
          const version = (await maxParamsVersion(tx, d.id)) + 1;
          await insertDeploymentParams(tx, d.id, version, params, principal.name);
          await setDeploymentParamsVersion(tx, d.id, version);
          await insertAudit(tx, principal.name, 'deployment.params', d.id, { version, params, previousVersion: d.params_version, messageId });
          // Signalled last, inside the transaction: a failed signal rolls the new version back.
          try {
            await temporalCall('params signal', () =>
              temporal.workflow.getHandle(d.workflow_id).signal(updateDeploymentParamsSignal, { messageId, params, version, by: principal.name }),
            );
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw temporalDown(request.log, err, 'update the params', d.id);
            throw new RuntimeGone(d.id);
          }
          return { id: d.id, version };
        }).catch(async (err: unknown) => {
          if (!(err instanceof RuntimeGone)) throw err;
          await inTransaction(db, async (tx) => {
            await setDeploymentRowStatus(tx, err.deploymentId, 'stopped');
            await insertAudit(tx, 'api', 'deployment.stopped', err.deploymentId, { reason: 'runtime workflow not running (seen on a params update)' });
          });
          throw conflict(`deployment ${err.deploymentId} has no running runtime; it is now recorded as stopped`);
        });
        request.log.info({ deploymentId: outcome.id, version: outcome.version, by: principal.name }, 'deployment params updated');
        return reply.code(202).send({ id: outcome.id, version: outcome.version, params, messageId });
      },
    );
  };
}
