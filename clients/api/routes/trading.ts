import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listFills, listPositions } from '../../../db/sql/fills';
import { listLedgerOrders } from '../../../db/sql/order-ledger';
import { LEDGER_STATES } from '../../../domain/orders';
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
        const orders = await listLedgerOrders(db, { deploymentId, symbol, state }, limit, offset);
        // OrderSchema is what goes out: the ledger's internal fields (intentHash, unsentAttempts, lastError) do not.
        return { orders: orders.map((o) => ({ ...o, createdAt: iso(o.createdAt)!, updatedAt: iso(o.updatedAt)! })), limit, offset };
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
        const fills = await listFills(db, { deploymentId, symbol }, limit, offset);
        return { fills: fills.map(({ ts, ...f }) => ({ ...f, time: iso(ts)! })), limit, offset };
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
        const positions = await listPositions(db, { deploymentId, accountId }, limit, offset);
        return { positions: positions.map((p) => ({ ...p, lastFillAt: iso(p.lastFillAt)! })), limit, offset };
      },
    );
  };
}
