import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cyclePage, type CycleKey } from '../../../db/sql/deployment-cycles';
import { getDeployment } from '../../../db/sql/deployments';
import { ROLES_ANY } from '../auth';
import type { ApiDeps } from '../deps';
import { badRequest, errorResponses, notFound } from '../errors';
import { IdParamsSchema, iso, timeBound } from '../schemas';

const CYCLE_ACTIONS = ['order', 'hold', 'skip', 'rejected', 'approval', 'cancelled'] as const;
const MAX_LIMIT = 500;

/** The page key, opaque to clients: base64url of [bar close to the microsecond, cycle, symbol]. */
const KeySchema = z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), z.number().int().min(0).max(2 ** 31 - 1), z.string().min(1).max(64)]);
const encodeCursor = (k: CycleKey) => Buffer.from(JSON.stringify([k.barClose, k.cycle, k.symbol])).toString('base64url');
function decodeCursor(cursor: string): CycleKey | undefined {
  try {
    const key = KeySchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (!key.success || Number.isNaN(Date.parse(key.data[0]))) return undefined;
    return { barClose: key.data[0], cycle: key.data[1], symbol: key.data[2] };
  } catch {
    return undefined;
  }
}

const CyclesQuerySchema = z
  .strictObject({
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int({ error: 'limit must be a whole number' })
      .min(1, { error: 'limit must be at least 1' })
      .max(MAX_LIMIT, { error: `limit must be at most ${MAX_LIMIT}` })
      .default(50),
    cursor: z
      .string()
      .max(300, { error: 'cursor is not one this endpoint gave out (too long)' })
      .regex(/^[A-Za-z0-9_-]+$/, { error: 'cursor is not one this endpoint gave out (not base64url)' })
      .optional()
      .describe("the previous page's nextCursor"),
    action: z
      .string()
      .max(200, { error: 'action is too long' })
      .transform((v, ctx) => {
        const actions = [...new Set(v.split(',').map((a) => a.trim()))];
        const bad = actions.filter((a) => !(CYCLE_ACTIONS as readonly string[]).includes(a));
        if (bad.length) ctx.addIssue({ code: 'custom', message: `action must be one or more of ${CYCLE_ACTIONS.join(', ')} (comma-separated); not ${bad.map((b) => JSON.stringify(b.slice(0, 20))).join(', ')}` });
        return actions;
      })
      .optional()
      .describe(`only these actions, comma-separated: ${CYCLE_ACTIONS.join(', ')}`),
    from: timeBound('from').optional().describe('bar close at or after (ISO date or date-time with zone)'),
    to: timeBound('to').optional().describe('bar close at or before (ISO date or date-time with zone)'),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { error: 'from must not be after to', path: ['from'] });

const RiskSummarySchema = z.object({
  decision: z.string(),
  qty: z.number(),
  breaker: z.string(),
  reasons: z.array(z.string()).describe('"rule: detail" for each limit that cut or refused the order'),
});

const CycleRowSchema = z.object({
  cycle: z.number().int(),
  symbol: z.string(),
  barClose: z.string(),
  action: z.string().describe(CYCLE_ACTIONS.join(', ')),
  reason: z.string().nullable(),
  signal: z.number().nullable(),
  indicators: z.record(z.string(), z.unknown()),
  risk: RiskSummarySchema.nullable().describe("the risk gate's verdict, when the strategy asked for an order"),
  clientOrderIds: z.array(z.string()),
  paramsVersion: z.number().int(),
  positionQty: z.number().nullable(),
  pnl: z.number().nullable().describe("the deployment's PnL recorded with the cycle"),
  latencyMs: z.number().nullable().describe("from the cycle's start (after its wait for the bar) to this row"),
  at: z.string(),
});

const CyclesPageSchema = z.object({
  cycles: z.array(CycleRowSchema),
  nextCursor: z.string().nullable().describe('pass as cursor for the next (older) page; null on the last page'),
  limit: z.number().int(),
});

/** The verdict as recorded (a RiskVerdict), summarized; a row whose risk JSON is not one shows null. */
const StoredVerdictSchema = z.object({
  decision: z.string(),
  qty: z.number(),
  breaker: z.string(),
  reasons: z.array(z.object({ rule: z.string(), detail: z.string() })).catch([]),
});
function riskSummary(risk: Record<string, unknown> | null): z.infer<typeof RiskSummarySchema> | null {
  const v = StoredVerdictSchema.safeParse(risk);
  return v.success ? { ...v.data, reasons: v.data.reasons.map((r) => `${r.rule}: ${r.detail}`) } : null;
}

/** GET /v1/deployments/:id/cycles: every cycle audit row, newest first, a page at a time. */
export function registerDeploymentCyclesRoute(app: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/deployments/:id/cycles',
    {
      config: { roles: ROLES_ANY },
      schema: {
        summary: "A deployment's cycle audit rows (one per symbol per cycle), newest bar close first, a page at a time",
        description:
          'Keyset-paginated: pass the answer\'s `nextCursor` as `cursor` for the next page (no row twice or lost while new cycles are written). ' +
          'Filter by `action` (comma-separated) and by bar close (`from`, `to`, inclusive).',
        tags: ['deployments'],
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        querystring: CyclesQuerySchema,
        response: { 200: CyclesPageSchema, ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request) => {
      const { limit, cursor, action, from, to } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (cursor !== undefined && !after) throw badRequest('cursor is not one this endpoint gave out: pass a nextCursor unchanged', [{ in: 'query', path: 'cursor', message: 'not a cursor from this endpoint' }]);
      const d = await getDeployment(db, request.params.id);
      if (!d) throw notFound(`no deployment ${request.params.id}`);
      const rows = await cyclePage(db, d.id, { actions: action, from, to, after }, limit + 1);
      const page = rows.slice(0, limit);
      return {
        cycles: page.map(({ key: _key, barClose, realizedPnl, createdAt, risk, ...c }) => ({ ...c, barClose: iso(barClose)!, risk: riskSummary(risk), pnl: realizedPnl, at: iso(createdAt)! })),
        nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.key) : null,
        limit,
      };
    },
  );
}
