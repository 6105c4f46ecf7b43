import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getApproval, listApprovals, listDecisions, type Approval, type Decision } from '../../../db/sql/approvals';
import { APPROVAL_STATUSES } from '../../../domain/approvals';
import { decideApproval } from '../../../services/approvals';
import type { InflightCalls } from '../../../services/temporal-call';
import { principalOf, ROLES_ANY, ROLES_APPROVER } from '../auth';
import type { ApiDeps } from '../deps';
import { errorResponses, notFound } from '../errors';
import { IdParamsSchema, iso, PageQuerySchema, UuidSchema } from '../schemas';

const DecisionSchema = z.object({ approver: z.string(), decision: z.enum(['approve', 'reject']), reason: z.string().nullable(), at: z.string() });

export const ApprovalSchema = z.object({
  id: z.uuid(),
  deploymentId: z.uuid(),
  workflowId: z.string(),
  status: z.enum(APPROVAL_STATUSES),
  trade: z.object({ symbol: z.string(), side: z.enum(['buy', 'sell']), qty: z.number(), price: z.number().describe('the price when the cycle asked'), notional: z.number() }),
  reason: z.record(z.string(), z.unknown()).describe('why the cycle wants it: signal, indicators, risk verdict, the policy rule'),
  requiredApprovals: z.number().int(),
  approvals: z.number().int().describe('distinct approvers who approved so far'),
  requestedBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  timeLeftMs: z.number().int().describe('0 once expired or decided'),
  decidedAt: z.string().nullable(),
  clientOrderId: z.string().nullable(),
  outcome: z.string().nullable(),
  decisions: z.array(DecisionSchema),
  links: z.object({ self: z.string(), temporalUi: z.string() }),
});

const ListQuerySchema = PageQuerySchema.extend({
  status: z.enum(APPROVAL_STATUSES, { error: `status must be one of: ${APPROVAL_STATUSES.join(', ')}` }).optional(),
  deploymentId: UuidSchema.optional(),
});

const DecisionBodySchema = z
  .strictObject({ reason: z.string({ error: 'reason must be a string' }).trim().min(1, { error: 'reason must not be empty' }).max(500, { error: 'reason is at most 500 characters' }).optional() })
  .nullish();

const DecidedSchema = z.object({
  id: z.uuid(),
  decision: z.enum(['approve', 'reject']),
  status: z.enum(APPROVAL_STATUSES).describe('the request after this decision: pending while more approvers are needed'),
  approvals: z.number().int(),
  requiredApprovals: z.number().int(),
  signalled: z.boolean().describe('false: the workflow was not reachable now; it reads the recorded decision within 30 s, or at expiry'),
});

/**
 * Trade approvals: list and show requests, approve or reject them. The decision is recorded (with the approver's
 * identity, under the request's row lock) before the workflow is signalled; the workflow only follows recorded
 * decisions. Wrong role or self-approval: 403; a late or repeated decision: 409.
 */
export function approvalRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { config, db, temporal } = deps;
  const services = { db, temporal, inflight };
  const uiBase = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  const view = (a: Approval, decisions: Decision[]) => ({
    id: a.id,
    deploymentId: a.deploymentId,
    workflowId: a.workflowId,
    status: a.status,
    trade: { symbol: a.symbol, side: a.side, qty: a.qty, price: a.price, notional: a.notional },
    reason: a.reason,
    requiredApprovals: a.requiredApprovals,
    approvals: decisions.filter((d) => d.decision === 'approve').length,
    requestedBy: a.requestedBy,
    createdAt: iso(a.createdAt)!,
    expiresAt: iso(a.expiresAt)!,
    timeLeftMs: a.status === 'pending' ? Math.max(0, a.expiresAt.getTime() - Date.now()) : 0,
    decidedAt: iso(a.decidedAt),
    clientOrderId: a.clientOrderId,
    outcome: a.outcome,
    decisions: decisions.map((d) => ({ approver: d.approver, decision: d.decision, reason: d.reason, at: iso(d.decidedAt)! })),
    links: { self: `/v1/approvals/${a.id}`, temporalUi: `${uiBase}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(a.workflowId)}` },
  });
  const withDecisions = async (approvals: Approval[]) => {
    const decisions = await listDecisions(db, approvals.map((a) => a.id));
    return approvals.map((a) => view(a, decisions.filter((d) => d.approvalId === a.id)));
  };

  return async (app) => {
    app.get(
      '/v1/approvals',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Trade approval requests, newest first (filter by status and deployment)',
          tags: ['approvals'],
          security: [{ bearer: [] }],
          querystring: ListQuerySchema,
          response: { 200: z.object({ approvals: z.array(ApprovalSchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, status, deploymentId } = request.query;
        return { approvals: await withDecisions(await listApprovals(db, { status, deploymentId }, limit, offset)), limit, offset };
      },
    );

    app.get(
      '/v1/approvals/:id',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'One approval request with its decisions',
          tags: ['approvals'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          response: { 200: ApprovalSchema, ...errorResponses(400, 401, 403, 404, 503) },
        },
      },
      async (request) => {
        const row = await getApproval(db, request.params.id);
        if (!row) throw notFound(`no approval ${request.params.id}`);
        return (await withDecisions([row]))[0]!;
      },
    );

    for (const decision of ['approve', 'reject'] as const) {
      app.post(
        `/v1/approvals/:id/${decision}`,
        {
          config: { roles: ROLES_APPROVER },
          schema: {
            summary: `${decision === 'approve' ? 'Approve' : 'Reject'} a pending trade (approver or admin; never your own deployment's request)`,
            description:
              decision === 'approve'
                ? 'Counts one approver; the request is approved when its required number of distinct approvers agreed. Then the workflow re-checks the kill switch, the risk gate and the price drift and places the order once.'
                : 'One rejection ends the request: it never trades.',
            tags: ['approvals'],
            security: [{ bearer: [] }],
            params: IdParamsSchema,
            body: DecisionBodySchema,
            response: { 202: DecidedSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
          },
        },
        async (request, reply) => {
          const { row, status, approvals, signalled } = await decideApproval(
            { ...services, log: request.log },
            { approvalId: request.params.id, decision, by: principalOf(request).name, reason: request.body?.reason },
          );
          return reply.code(202).send({ id: row.id, decision, status, approvals, requiredApprovals: row.requiredApprovals, signalled });
        },
      );
    }
  };
}
