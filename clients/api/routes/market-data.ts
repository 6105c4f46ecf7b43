import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BACKFILL_MODES, finishBackfill, getBackfill, insertBackfill, listBackfills, type Backfill } from '../../../db/sql/market-data-backfills';
import { listMarketDataEvents, MARKET_DATA_EVENT_KINDS } from '../../../db/sql/market-data-events';
import { listFeeds } from '../../../db/sql/market-data-feeds';
import { listQualityOfDay } from '../../../db/sql/market-data-quality';
import { getQualityReport } from '../../../db/sql/market-data-reports';
import { MARKET_DATA_PROVIDERS } from '../../../domain/deployment/spec';
import { backfillProgressQuery, backfillWorkflowId, type BackfillProgress } from '../../../workflows/market-data/messages';
import type { marketDataBackfillWorkflow, marketDataQualityReportWorkflow } from '../../../workflows/market-data/workflow';
import { SEARCH_ATTRIBUTES } from '../../../workflows/search-attributes';
import { TASK_QUEUES } from '../../../workflows/task-queues';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import { errorResponses, notFound, unavailable } from '../errors';
import { temporalCall, type InflightCalls } from '../../../services/temporal-call';
import { IdParamsSchema, iso, SymbolSchema, timeBound, TimeframeSchema } from '../schemas';

const CALL_TIMEOUT_MS = 5_000;
const REPORT_TIMEOUT_MS = 30_000;
/** A backfill covers at most ten years: beyond that a typo, not a plan. */
const MAX_RANGE_MS = 10 * 366 * 86_400_000;

const ProviderSchema = z.enum(MARKET_DATA_PROVIDERS, { error: `provider must be one of: ${MARKET_DATA_PROVIDERS.join(', ')}` });
const DaySchema = z.iso.date({ error: 'day must be YYYY-MM-DD' });

export const BackfillRequestSchema = z
  .strictObject({
    provider: ProviderSchema,
    symbol: SymbolSchema,
    timeframe: TimeframeSchema,
    from: timeBound('from'),
    to: timeBound('to'),
    mode: z.enum(BACKFILL_MODES, { error: 'mode must be incremental (only the missing bars) or full (the whole range again)' }).default('incremental'),
  })
  .superRefine((b, ctx) => {
    if (b.from > b.to) ctx.addIssue({ code: 'custom', path: ['from'], message: `from (${b.from}) must not be after to (${b.to})` });
    else if (Date.parse(b.to) - Date.parse(b.from) > MAX_RANGE_MS) ctx.addIssue({ code: 'custom', path: ['to'], message: 'a backfill covers at most ten years' });
  });

const BackfillSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  provider: z.string(),
  symbol: z.string(),
  timeframe: z.string(),
  from: z.string(),
  to: z.string(),
  mode: z.enum(BACKFILL_MODES),
  status: z.enum(['queued', 'running', 'completed', 'failed']),
  requestedBy: z.string(),
  expected: z.number().nullable(),
  fetched: z.number(),
  stored: z.number(),
  replaced: z.number(),
  invalid: z.number(),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
const ProgressSchema = z.object({
  done: z.number().describe('calendar bars of the range looked at so far'),
  expected: z.number().describe('calendar bars in the range'),
  fraction: z.number(),
  source: z.enum(['workflow', 'job']).describe('workflow: live from the backfillProgress query; job: from the job row'),
});

const view = (b: Backfill) => ({
  id: b.id,
  workflowId: b.workflowId,
  provider: b.provider,
  symbol: b.symbol,
  timeframe: b.timeframe,
  from: new Date(b.fromMs).toISOString(),
  to: new Date(b.toMs).toISOString(),
  mode: b.mode,
  status: b.status,
  requestedBy: b.requestedBy,
  expected: b.expected,
  fetched: b.fetched,
  stored: b.stored,
  replaced: b.replaced,
  invalid: b.invalid,
  error: b.error,
  createdAt: iso(b.createdAt)!,
  startedAt: iso(b.startedAt),
  finishedAt: iso(b.finishedAt),
});

/** Market data: backfill jobs (a workflow each, with live progress), feeds, quality per series and day, events, reports. */
export function marketDataRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { db, temporal } = deps;
  const call = <T>(what: string, ms: number, fn: () => Promise<T>) => temporalCall({ temporal, inflight }, what, ms, fn);
  const tag = ['market data'];
  const auth = [{ bearer: [] }];

  return async (app) => {
    app.post(
      '/v1/market-data/backfills',
      {
        config: { roles: ROLES_TRADER },
        schema: { summary: 'Backfill (sync the missing range of) one series from a provider: a workflow on the io queue', tags: tag, security: auth, body: BackfillRequestSchema, response: { 202: BackfillSchema, ...errorResponses(400, 401, 403, 503) } },
      },
      async (request, reply) => {
        const { provider, symbol, timeframe, from, to, mode } = request.body;
        const id = randomUUID();
        const workflowId = backfillWorkflowId(id);
        // The row first: the workflow verifies it and takes its range from it.
        await insertBackfill(db, { id, workflowId, provider, symbol, timeframe, fromMs: Date.parse(from), toMs: Date.parse(to), mode, requestedBy: principalOf(request).name });
        try {
          await call('starting the workflow', CALL_TIMEOUT_MS, () =>
            temporal.workflow.start<typeof marketDataBackfillWorkflow>('marketDataBackfillWorkflow', {
              taskQueue: TASK_QUEUES.io,
              workflowId,
              args: [{ backfillId: id }],
              staticSummary: `backfill ${symbol} ${timeframe} ${from.slice(0, 10)}..${to.slice(0, 10)} (${mode}, ${provider})`,
              typedSearchAttributes: [
                { key: SEARCH_ATTRIBUTES.jobType, value: 'market-data-backfill' },
                { key: SEARCH_ATTRIBUTES.symbol, value: symbol },
              ],
            }),
          );
        } catch (err) {
          request.log.error({ err: { message: (err as Error).message }, backfillId: id }, 'could not start backfill workflow');
          await finishBackfill(db, id, 'failed', 'could not start the workflow (Temporal unavailable)').catch(() => undefined);
          throw unavailable('could not start the backfill: Temporal is unavailable; retry later');
        }
        return reply.code(202).send(view((await getBackfill(db, id))!));
      },
    );

    app.get(
      '/v1/market-data/backfills',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Backfill jobs, newest first',
          tags: tag,
          security: auth,
          querystring: z.strictObject({ symbol: SymbolSchema.optional(), status: z.enum(['queued', 'running', 'completed', 'failed']).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }),
          response: { 200: z.object({ backfills: z.array(BackfillSchema) }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => ({ backfills: (await listBackfills(db, request.query, request.query.limit)).map(view) }),
    );

    app.get(
      '/v1/market-data/backfills/:id',
      {
        config: { roles: ROLES_ANY },
        schema: { summary: 'One backfill job with its progress (live from the workflow while it runs)', tags: tag, security: auth, params: IdParamsSchema, response: { 200: BackfillSchema.extend({ progress: ProgressSchema }), ...errorResponses(400, 401, 403, 404, 503) } },
      },
      async (request) => {
        const b = await getBackfill(db, request.params.id);
        if (!b) throw notFound(`no backfill ${request.params.id}`);
        const expected = b.expected ?? 0;
        let progress = { done: b.status === 'completed' ? expected : 0, expected, fraction: b.status === 'completed' ? 1 : 0, source: 'job' as 'job' | 'workflow' };
        if (b.status === 'queued' || b.status === 'running') {
          try {
            const p: BackfillProgress = await call('the progress query', CALL_TIMEOUT_MS, () => temporal.workflow.getHandle(b.workflowId).query(backfillProgressQuery));
            progress = { done: p.done, expected: p.expected, fraction: p.expected > 0 ? p.done / p.expected : 0, source: 'workflow' };
          } catch {
            // not started yet, or Temporal down: the row's view
          }
        }
        return { ...view(b), progress };
      },
    );

    app.get(
      '/v1/market-data/feeds',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'The market-data feeds the platform runs, with their watermark (the last bar close stored and cached)',
          tags: tag,
          security: auth,
          response: { 200: z.object({ feeds: z.array(z.object({ provider: z.string(), timeframe: z.string(), workflowId: z.string(), settleMs: z.number(), watermark: z.string().nullable(), lastRefresh: z.record(z.string(), z.unknown()).nullable() })) }), ...errorResponses(401, 403, 503) },
        },
      },
      async () => ({
        feeds: (await listFeeds(db)).map((f) => ({ provider: f.provider, timeframe: f.timeframe, workflowId: `market-data-${f.provider}-${f.timeframe}`, settleMs: f.settleMs, watermark: f.watermark === null ? null : new Date(f.watermark).toISOString(), lastRefresh: f.lastRefresh })),
      }),
    );

    app.get(
      '/v1/market-data/quality',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: "Quality levels per series on a trading day (missing > 5 % or delay > 5 min WARNING; > 20 % or > 10 min ERROR)",
          tags: tag,
          security: auth,
          querystring: z.strictObject({ day: DaySchema, provider: z.string().max(40).optional(), timeframe: TimeframeSchema.optional(), symbol: SymbolSchema.optional() }),
          response: { 200: z.object({ day: z.string(), series: z.array(z.record(z.string(), z.unknown())) }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { day, ...filter } = request.query;
        const rows = await listQualityOfDay(db, day, filter);
        return { day, series: rows.map((r) => ({ ...r, updatedAt: r.updatedAt.toISOString() })) };
      },
    );

    app.get(
      '/v1/market-data/events',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'What happened to the series: gaps found, backfills done, invalid bars skipped, late and missing bars, level changes',
          tags: tag,
          security: auth,
          querystring: z.strictObject({ symbol: SymbolSchema.optional(), timeframe: TimeframeSchema.optional(), kind: z.enum(MARKET_DATA_EVENT_KINDS).optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
          response: { 200: z.object({ events: z.array(z.record(z.string(), z.unknown())) }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, ...filter } = request.query;
        const events = await listMarketDataEvents(db, filter, limit);
        return { events: events.map((e) => ({ ...e, at: e.at.toISOString(), from: e.fromMs === undefined ? null : new Date(e.fromMs).toISOString(), to: e.toMs === undefined ? null : new Date(e.toMs).toISOString() })) };
      },
    );

    app.post(
      '/v1/market-data/reports',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: 'Build the quality report of a trading day now (what its daily Schedule does), store it and notify',
          tags: tag,
          security: auth,
          body: z.strictObject({ day: DaySchema.optional() }).describe('`{}` for the last closed trading day'),
          response: { 200: z.record(z.string(), z.unknown()), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { day } = request.body;
        try {
          const report = await call('the report', REPORT_TIMEOUT_MS, () =>
            temporal.workflow.execute<typeof marketDataQualityReportWorkflow>('marketDataQualityReportWorkflow', {
              taskQueue: TASK_QUEUES.io,
              workflowId: `market-data-report-${day ?? 'latest'}-${randomUUID().slice(0, 8)}`,
              args: [day ? { day } : {}],
              staticSummary: `quality report ${day ?? '(last closed trading day)'}, asked through the API`,
              typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.jobType, value: 'market-data-report' }],
            }),
          );
          return { ...report };
        } catch (err) {
          request.log.error({ err: { message: (err as Error).message } }, 'quality report failed');
          throw unavailable('could not build the report: Temporal or the IO worker is unavailable; retry later');
        }
      },
    );

    app.get(
      '/v1/market-data/reports/:day',
      {
        config: { roles: ROLES_ANY },
        schema: { summary: 'The stored quality report of a trading day', tags: tag, security: auth, params: z.strictObject({ day: DaySchema }), response: { 200: z.record(z.string(), z.unknown()), ...errorResponses(400, 401, 403, 404, 503) } },
      },
      async (request) => {
        const r = await getQualityReport(db, request.params.day);
        if (!r) throw notFound(`no quality report for ${request.params.day}`);
        return { ...r.report, createdAt: r.createdAt.toISOString() };
      },
    );
  };
}
