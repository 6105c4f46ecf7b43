import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { insertAudit } from '../../../db/sql/audit';
import { listLiquidationAccounts, upsertLiquidationAccount } from '../../../db/sql/liquidation-accounts';
import { getLiquidation, listLiquidations, type Liquidation } from '../../../db/sql/liquidations';
import { inTransaction } from '../../../db/sql/queryable';
import { BROKERS } from '../../../domain/deployment/spec';
import { DEFAULT_EOD_MARGIN_MINUTES, EodMarginSchema } from '../../../domain/eod/policy';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ADMIN, ROLES_ANY, ROLES_TRADER } from '../auth';
import { errorResponses, notFound, unavailable } from '../errors';
import { IdParamsSchema, iso, PageQuerySchema } from '../schemas';
import { withTimeout } from '../../../platform/timeout';
import { OperationError } from '../../../services/errors';
import { triggerLiquidation } from '../../../services/liquidations';
import type { InflightCalls } from '../../../services/temporal-call';

const ACCOUNT_ID = /^[A-Za-z0-9._-]{1,64}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const CALL_TIMEOUT_MS = 5_000;

const AccountIdSchema = z.string({ error: 'accountId must be a string' }).regex(ACCOUNT_ID, { error: 'accountId is 1..64 characters of A-Z a-z 0-9 . _ -' });
const DateSchema = z.string({ error: 'date must be a string' }).regex(DATE, { error: 'date must be YYYY-MM-DD' });

/** POST /v1/liquidations body: the whole account, now (today's session). */
export const LiquidationRequestSchema = z.strictObject({
  accountId: AccountIdSchema,
  reason: z.string({ error: 'reason must be a string' }).trim().min(1, { error: 'reason is required' }).max(500, { error: 'reason is at most 500 characters' }),
  date: DateSchema.optional().describe("today's session date on the exchange (a check: a liquidation is for today only)"),
});

const ms = (t: number) => new Date(t).toISOString();

/** PUT /v1/liquidations/accounts/:accountId body: the whole account flat by each close (or not, enabled false). */
const AccountSettingSchema = z.strictObject({
  broker: z.enum(BROKERS, { error: `broker must be one of: ${BROKERS.join(', ')}` }),
  marginMinutes: EodMarginSchema.default(DEFAULT_EOD_MARGIN_MINUTES),
  enabled: z.boolean({ error: 'enabled must be true or false' }).default(true),
});
const AccountSettingViewSchema = z.object({ accountId: z.string(), broker: z.string(), marginMinutes: z.number().int(), enabled: z.boolean(), setBy: z.string(), setAt: z.string() });

const LiquidationSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  accountId: z.string(),
  tradingDay: z.string(),
  trigger: z.enum(['schedule', 'manual']),
  requestedBy: z.string(),
  reason: z.string(),
  scope: z.enum(['account', 'deployments']),
  deploymentIds: z.array(z.string()),
  brokers: z.array(z.string()),
  marginMinutes: z.number().int(),
  closeAt: z.string(),
  reduceOnlyAt: z.string(),
  flatBy: z.string(),
  liftsAt: z.string(),
  status: z.enum(['scheduled', 'running', 'flat', 'not_flat']),
  steps: z.array(z.object({ step: z.string(), at: z.string(), detail: z.record(z.string(), z.unknown()) })),
  report: z
    .object({
      flat: z.boolean(),
      inTime: z.boolean(),
      verifiedAt: z.string(),
      left: z.array(z.object({ broker: z.string(), symbol: z.string(), qty: z.number(), why: z.string() })),
      orders: z.number().int(),
      rounds: z.number().int(),
    })
    .nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  liftedAt: z.string().nullable(),
});

function view(l: Liquidation): z.infer<typeof LiquidationSchema> {
  return {
    id: l.id, workflowId: l.workflowId, accountId: l.accountId, tradingDay: l.tradingDay, trigger: l.trigger, requestedBy: l.requestedBy, reason: l.reason,
    scope: l.scope, deploymentIds: l.deploymentIds, brokers: l.brokers, marginMinutes: l.marginMinutes,
    closeAt: ms(l.closeAtMs), reduceOnlyAt: ms(l.reduceOnlyAtMs), flatBy: ms(l.flatByMs), liftsAt: ms(l.liftsAtMs), status: l.status,
    steps: l.steps.map((s) => ({ step: s.step, at: ms(s.at), detail: s.detail })),
    report: l.report && { flat: l.report.flat, inTime: l.report.inTime, verifiedAt: ms(l.report.verifiedAt), left: l.report.left, orders: l.report.orders, rounds: l.report.rounds },
    createdAt: iso(l.createdAt)!, finishedAt: iso(l.finishedAt), liftedAt: iso(l.liftedAt),
  };
}

/**
 * End-of-day liquidations: a manual trigger (admin, or a trader with a deployment on the account; audited) and the
 * record of each day's liquidation with its steps and verdict.
 */
export function liquidationRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { db, temporal } = deps;
  return async (app) => {
    app.post(
      '/v1/liquidations',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: 'Liquidate an account now (admin, or a trader of the account; audited)',
          description:
            'Records the day\'s liquidation of the account (one per account and trading day: asking again, or after the scheduler, answers the same one with created=false) and starts its workflow: reduce-only at once, open orders cancelled, every position closed, verified flat against the broker. Entries are allowed again at the next session\'s open.',
          tags: ['liquidations'],
          security: [{ bearer: [] }],
          body: LiquidationRequestSchema,
          response: { 202: z.object({ created: z.boolean(), liquidation: LiquidationSchema }), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { accountId, reason, date } = request.body;
        const nowMs = (deps.marketNow ?? Date.now)();
        const wall = Date.now();
        try {
          const r = await withTimeout(
            triggerLiquidation(
              { db, temporal, inflight, log: request.log },
              {
                accountId, reason, by: principal.name, role: principal.role === 'admin' ? 'admin' : 'trader', nowMs, ...(date ? { date } : {}),
                // a platform whose market clock is not the wall clock (a rehearsal, a test) maps workflow time onto it
                ...(Math.abs(nowMs - wall) > 1_000 ? { clock: { dataStartMs: nowMs, wallStartMs: wall, speed: 1 } } : {}),
              },
            ),
            CALL_TIMEOUT_MS * 2,
            'recording and starting the liquidation timed out',
          );
          return reply.code(202).send({ created: r.created, liquidation: view(r.liquidation) });
        } catch (err) {
          if (err instanceof OperationError && err.kind !== 'unavailable') throw err;
          request.log.error({ err, accountId }, 'liquidation trigger failed');
          throw unavailable('could not start the liquidation (Temporal or Postgres unavailable); retry: the same liquidation is answered');
        }
      },
    );

    app.get(
      '/v1/liquidations',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Liquidations, newest day first (filter by account and day)',
          tags: ['liquidations'],
          security: [{ bearer: [] }],
          querystring: PageQuerySchema.extend({ accountId: AccountIdSchema.optional(), date: DateSchema.optional() }),
          response: { 200: z.object({ liquidations: z.array(LiquidationSchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, accountId, date } = request.query;
        const rows = await listLiquidations(db, { ...(accountId ? { accountId } : {}), ...(date ? { date } : {}) }, limit, offset);
        return { liquidations: rows.map(view), limit, offset };
      },
    );

    app.put(
      '/v1/liquidations/accounts/:accountId',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          summary: 'Liquidate a whole account at each close (admin only; audited)',
          description: 'Every position of the account is closed each NYSE trading day at the close minus marginMinutes (default 5), not only those of deployments with an eod policy.',
          tags: ['liquidations'],
          security: [{ bearer: [] }],
          params: z.strictObject({ accountId: AccountIdSchema }),
          body: AccountSettingSchema,
          response: { 200: AccountSettingViewSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { accountId } = request.params;
        const a = await inTransaction(db, async (tx) => {
          const row = await upsertLiquidationAccount(tx, { accountId, ...request.body, setBy: principal.name });
          await insertAudit(tx, principal.name, 'liquidation.account', accountId, { ...request.body });
          return row;
        });
        return { ...a, setAt: iso(a.setAt)! };
      },
    );

    app.get(
      '/v1/liquidations/accounts',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Accounts liquidated whole at each close',
          tags: ['liquidations'],
          security: [{ bearer: [] }],
          response: { 200: z.object({ accounts: z.array(AccountSettingViewSchema) }), ...errorResponses(401, 403, 503) },
        },
      },
      async () => ({ accounts: (await listLiquidationAccounts(db)).map((a) => ({ ...a, setAt: iso(a.setAt)! })) }),
    );

    app.get(
      '/v1/liquidations/:id',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'One liquidation: its times, steps and verdict (what is left and why)',
          tags: ['liquidations'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          response: { 200: LiquidationSchema, ...errorResponses(400, 401, 403, 404, 503) },
        },
      },
      async (request) => {
        const l = await getLiquidation(db, request.params.id);
        if (!l) throw notFound(`no liquidation ${request.params.id}`);
        return view(l);
      },
    );
  };
}
