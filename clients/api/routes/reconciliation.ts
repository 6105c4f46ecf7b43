import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { insertAudit } from '../../../db/sql/audit';
import { listDiscrepancies, resolveDiscrepancy, getDiscrepancy, type Discrepancy } from '../../../db/sql/broker-discrepancies';
import { inTransaction } from '../../../db/sql/queryable';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ADMIN, ROLES_ANY } from '../auth';
import { conflict, errorResponses, notFound } from '../errors';
import { AccountIdSchema, iso, PageQuerySchema } from '../schemas';

const FindingSchema = z.object({
  id: z.string(),
  broker: z.string(),
  accountId: z.string(),
  kind: z.enum(['unknown_order', 'unknown_fill']),
  brokerRef: z.string().describe("the broker's order id or fill id"),
  clientOrderId: z.string(),
  symbol: z.string(),
  detail: z.record(z.string(), z.unknown()),
  foundBy: z.string().describe('the deployment whose reconciliation found it'),
  foundAt: z.string(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.string().nullable(),
});

const ListQuerySchema = PageQuerySchema.extend({
  accountId: AccountIdSchema.optional(),
  open: z.enum(['true', 'false'], { error: 'open must be true or false' }).optional(),
});

const FindingParamsSchema = z.strictObject({ id: z.string().regex(/^[0-9]{1,18}$/, { error: 'a finding id is a number' }) });
const ResolveBodySchema = z.strictObject({
  resolution: z.string({ error: 'resolution must be a string' }).trim().min(1, { error: 'resolution is required: say what was done about it' }).max(500, { error: 'resolution is at most 500 characters' }),
});

const view = (d: Discrepancy) => ({ ...d, foundAt: iso(d.foundAt)!, resolvedAt: iso(d.resolvedAt) });

/**
 * Reconciliation findings: broker orders and fills the ledger does not know. While one is unresolved, every
 * deployment on its account places no new orders; an admin resolves it (recorded and audited) once handled.
 */
export function reconciliationRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;
  return async (app) => {
    app.get(
      '/v1/reconciliation/findings',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Broker orders and fills unknown to the ledger, newest first (open=true: unresolved ones, which block their account)',
          tags: ['reconciliation'],
          security: [{ bearer: [] }],
          querystring: ListQuerySchema,
          response: { 200: z.object({ findings: z.array(FindingSchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, accountId, open } = request.query;
        const rows = await listDiscrepancies(db, { accountId, open: open === undefined ? undefined : open === 'true' }, limit, offset);
        return { findings: rows.map(view), limit, offset };
      },
    );

    app.post(
      '/v1/reconciliation/findings/:id/resolve',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          summary: 'Mark a finding resolved (admin only; audited). Deployments of the account trade again at their next cycle once none is open.',
          tags: ['reconciliation'],
          security: [{ bearer: [] }],
          params: FindingParamsSchema,
          body: ResolveBodySchema,
          response: { 200: FindingSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { resolution } = request.body;
        const row = await inTransaction(db, async (tx) => {
          const resolved = await resolveDiscrepancy(tx, request.params.id, principal.name, resolution);
          if (!resolved) {
            const existing = await getDiscrepancy(tx, request.params.id);
            if (!existing) throw notFound(`no finding ${request.params.id}`);
            throw conflict(`finding ${existing.id} was already resolved by ${existing.resolvedBy}`);
          }
          await insertAudit(tx, principal.name, 'reconciliation.resolve', `${resolved.broker}:${resolved.accountId}`, { findingId: resolved.id, resolution, kind: resolved.kind, brokerRef: resolved.brokerRef });
          return resolved;
        });
        request.log.warn({ findingId: row.id, by: principal.name, resolution }, 'reconciliation finding resolved');
        return view(row);
      },
    );
  };
}
