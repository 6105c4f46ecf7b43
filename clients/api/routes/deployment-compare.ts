import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { COMPARE_CAUSES } from '../../../domain/deployment/compare-types';
import { compareDeployment, CompareWindowError, NotComparableError } from '../../../services/deployment-compare';
import { ROLES_ANY } from '../auth';
import type { ApiDeps } from '../deps';
import { badRequest, conflict, errorResponses, notFound } from '../errors';
import { IdParamsSchema, timeBound } from '../schemas';

const CompareQuerySchema = z.strictObject({ from: timeBound('from').optional(), to: timeBound('to').optional() });

const CauseSchema = z.enum(COMPARE_CAUSES);

const SideSchema = z.object({
  netQty: z.number().describe('signed net quantity on the bar (buys +; a reversal nets its two engine fills)'),
  price: z.number().nullable().describe('volume-weighted fill price'),
  reasons: z.array(z.string()).describe("the engine's fill reasons, or the deciding cycles' reasons"),
  clientOrderIds: z.array(z.string()).optional(),
});

const RowSchema = z.object({
  symbol: z.string(),
  decisionBar: z.string().describe('open time of the bar both sides decided on'),
  engine: SideSchema.nullable(),
  deployment: SideSchema.nullable().describe('its fills, from the orders and fills tables'),
  difference: z
    .object({ kind: z.enum(['price', 'quantity', 'missing', 'extra']), cause: CauseSchema, detail: z.string() })
    .nullable()
    .describe('null when both sides traded the same quantity at the same price'),
});

const ComparisonSchema = z.object({
  deploymentId: z.uuid(),
  window: z.object({ from: z.string(), to: z.string() }).nullable().describe('decision bar closes compared; null before the first cycle'),
  paramsVersion: z.number().int().describe('the params version the engine ran with (the first; a later params command shows as a manual cause)'),
  summary: z.object({
    engineTrades: z.number().int(),
    deploymentTrades: z.number().int(),
    matched: z.number().int().describe('bars where both sides traded the same side and quantity (the price may differ)'),
    identical: z.number().int().describe('of those, the ones at the same price too'),
    differences: z.number().int(),
    byCause: z.partialRecord(CauseSchema, z.number().int()),
  }),
  rows: z.array(RowSchema),
});

/** GET /v1/deployments/:id/compare: the deployment's fills next to the engine's backtest of the same bars and params. */
export function registerDeploymentCompareRoute(app: FastifyInstance, deps: ApiDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/v1/deployments/:id/compare',
    {
      config: { roles: ROLES_ANY },
      schema: {
        summary: "Live against backtest: the deployment's fills next to the engine's backtest of the same bars and params, trade by trade, each difference with its cause",
        description:
          'Matched on the bar each side decided on. Causes: latency, partial-fill, risk, approval, stale-data, skipped-cycle, liquidation, manual, end-of-data; a difference no recorded fact accounts for is unexplained. A scanner deployment is a 409 (the engine has no universe ranking).',
        tags: ['deployments'],
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        querystring: CompareQuerySchema,
        response: { 200: ComparisonSchema, ...errorResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => {
      const { from, to } = request.query;
      const c = await compareDeployment(deps.db, request.params.id, { ...(from ? { from } : {}), ...(to ? { to } : {}) }).catch((err: unknown) => {
        if (err instanceof CompareWindowError) throw badRequest(err.message);
        if (err instanceof NotComparableError) throw conflict(err.message);
        throw err;
      });
      if (!c) throw notFound(`no deployment ${request.params.id}`);
      const at = (ms: number) => new Date(ms).toISOString();
      return {
        deploymentId: c.deploymentId,
        window: c.window ? { from: at(c.window.from), to: at(c.window.to) } : null,
        paramsVersion: c.paramsVersion,
        summary: c.summary,
        rows: c.rows.map((r) => ({ ...r, decisionBar: at(r.decisionBar) })),
      };
    },
  );
}
