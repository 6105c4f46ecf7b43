import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listFills, listOrders, listPositions } from '../../../db/sql/deployments';
import { LEDGER_STATES } from '../../../db/sql/order-ledger';
import type { ApiDeps } from '../deps';
import { ROLES_ANY } from '../auth';
import { errorResponses } from '../errors';
import { AccountIdSchema, iso, PageQuerySchema, SymbolSchema, UuidSchema } from '../schemas';

const OrdersQuerySchema = PageQuerySchema.extend({
  deploymentId: UuidSchema.optional(),
  symbol: SymbolSchema.optional(),
  state: z.enum(LEDGER_STATES, { error: `state must be one of: ${LEDGER_STATES.join(', ')}` }).optional(),
});

const FillsQuerySchema = PageQuerySchema.extend({
  deploymentId: UuidSchema.optional(),
  symbol: SymbolSchema.optional(),
});

const PositionsQuerySchema = PageQuerySchema.extend({
  deploymentId: UuidSchema.optional(),
  accountId: AccountIdSchema.optional(),
});

const OrderSchema = z.object({
  clientOrderId: z.string(),
  deploymentId: z.uuid(),
  workflowId: z.string(),
  cycle: z.number().int(),
  leg: z.number().int(),
  intentVersion: z.number().int(),
  broker: z.string(),
  accountId: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  qty: z.number(),
  orderType: z.string(),
  limitPrice: z.number().nullable(),
  timeInForce: z.string(),
  state: z.enum(LEDGER_STATES),
  brokerOrderId: z.string().nullable(),
  filledQty: z.number(),
  avgFillPrice: z.number().nullable(),
  rejectReason: z.string().nullable(),
  submitAttempts: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const FillSchema = z.object({
  broker: z.string(),
  brokerFillId: z.string(),
  clientOrderId: z.string(),
  deploymentId: z.uuid(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  qty: z.number(),
  price: z.number(),
  time: z.string(),
});

const PositionSchema = z.object({
  deploymentId: z.uuid(),
  accountId: z.string(),
  symbol: z.string(),
  qty: z.number().describe('signed quantity: buys minus sells'),
  cashFlow: z.number().describe('sum over fills: sells add, buys subtract'),
  fills: z.number().int(),
  lastFillAt: z.string(),
});

const page = { limit: z.number(), offset: z.number() };

/** Read-only views of the order ledger, the fills and the positions derived from them. */
export function tradingRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const { db } = deps;
  return async (app) => {
    app.get(
      '/v1/orders',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Orders from the idempotency ledger, newest first (filter by deployment, symbol and state)',
          tags: ['trading'],
          security: [{ bearer: [] }],
          querystring: OrdersQuerySchema,
          response: { 200: z.object({ orders: z.array(OrderSchema), ...page }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, deploymentId, symbol, state } = request.query;
        const rows = await listOrders(db, { deploymentId, symbol, state }, limit, offset);
        return {
          orders: rows.map((o) => ({
            clientOrderId: o.client_order_id,
            deploymentId: o.deployment_id,
            workflowId: o.workflow_id,
            cycle: o.cycle_seq,
            leg: o.leg,
            intentVersion: o.intent_version,
            broker: o.broker,
            accountId: o.account_id,
            symbol: o.symbol,
            side: o.side,
            qty: o.qty,
            orderType: o.order_type,
            limitPrice: o.limit_price,
            timeInForce: o.time_in_force,
            state: o.state,
            brokerOrderId: o.broker_order_id,
            filledQty: o.filled_qty,
            avgFillPrice: o.avg_fill_price,
            rejectReason: o.reject_reason,
            submitAttempts: o.submit_attempts,
            createdAt: iso(o.created_at)!,
            updatedAt: iso(o.updated_at)!,
          })),
          limit,
          offset,
        };
      },
    );

    app.get(
      '/v1/fills',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Fills, newest first (filter by deployment and symbol)',
          tags: ['trading'],
          security: [{ bearer: [] }],
          querystring: FillsQuerySchema,
          response: { 200: z.object({ fills: z.array(FillSchema), ...page }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, deploymentId, symbol } = request.query;
        const rows = await listFills(db, { deploymentId, symbol }, limit, offset);
        return {
          fills: rows.map((f) => ({
            broker: f.broker,
            brokerFillId: f.broker_fill_id,
            clientOrderId: f.client_order_id,
            deploymentId: f.deployment_id,
            symbol: f.symbol,
            side: f.side,
            qty: f.qty,
            price: f.price,
            time: iso(f.ts)!,
          })),
          limit,
          offset,
        };
      },
    );

    app.get(
      '/v1/positions',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Positions per deployment and symbol, computed from the fills (filter by deployment or account)',
          tags: ['trading'],
          security: [{ bearer: [] }],
          querystring: PositionsQuerySchema,
          response: { 200: z.object({ positions: z.array(PositionSchema), ...page }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, deploymentId, accountId } = request.query;
        const rows = await listPositions(db, { deploymentId, accountId }, limit, offset);
        return {
          positions: rows.map((p) => ({
            deploymentId: p.deployment_id,
            accountId: p.account_id,
            symbol: p.symbol,
            qty: p.qty,
            cashFlow: p.cash_flow,
            fills: p.fills,
            lastFillAt: iso(p.last_fill_at)!,
          })),
          limit,
          offset,
        };
      },
    );
  };
}
