import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listDailySummaries } from '../../../db/sql/daily-summaries';
import type { ApiDeps } from '../deps';
import { ROLES_ANY } from '../auth';
import { errorResponses } from '../errors';
import { iso, PageQuerySchema, UuidSchema } from '../schemas';

const SummarySchema = z.object({
  tradingDay: z.string(),
  scope: z.enum(['account', 'deployment']),
  scopeId: z.string(),
  accountId: z.string(),
  metrics: z.record(z.string(), z.unknown()).describe('realizedPnl, unrealizedPnl, dayPnl, trades, wins, losses, winRate, profitFactor, maxDrawdown, fees, feesReported, fills, turnover, exposure, positionsAtClose'),
  equity: z.array(z.tuple([z.number(), z.number()])).describe('the intraday PnL curve: [epoch ms, PnL since the session opened]'),
  computedAt: z.string(),
});

/** Daily summaries (written by the end-of-day scheduler after each session's close), per account and per deployment. */
export function dailySummaryRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/v1/daily-summaries',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Daily summaries, newest day first (filter by day, account, deployment)',
          tags: ['liquidations'],
          security: [{ bearer: [] }],
          querystring: PageQuerySchema.extend({
            date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'date must be YYYY-MM-DD' }).optional(),
            accountId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'accountId is 1..64 characters of A-Z a-z 0-9 . _ -' }).optional(),
            deploymentId: UuidSchema.optional(),
          }),
          response: { 200: z.object({ summaries: z.array(SummarySchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset, date, accountId, deploymentId } = request.query;
        const rows = await listDailySummaries(deps.db, { ...(date ? { date } : {}), ...(accountId ? { accountId } : {}), ...(deploymentId ? { deploymentId } : {}) }, limit, offset);
        return { summaries: rows.map((s) => ({ ...s, metrics: s.metrics as unknown as Record<string, unknown>, computedAt: iso(s.computedAt)! })), limit, offset };
      },
    );
  };
}
