import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getBacktestJob, listBacktestJobs, type BacktestJobRow } from '../../../db/sql/backtest-jobs';
import { countBacktestTrades, getBacktestResult, listBacktestTrades } from '../../../db/sql/backtest-results';
import { BacktestSettingsInputSchema, parseBacktestSettings, validateStrategyParams } from '../../../domain/backtest/settings';
import { backtestProgress, cancelBacktest, startBacktest } from '../../../services/backtests';
import type { InflightCalls } from '../../../services/temporal-call';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import type { ApiDeps } from '../deps';
import { errorResponses, notFound } from '../errors';
import { IdParamsSchema, iso, PageQuerySchema, SymbolSchema, timeBound, TimeframeSchema } from '../schemas';

/** POST /v1/backtests body: the series, an optional inclusive window, and the settings (defaults filled in). */
export const BacktestRequestSchema = z
  .strictObject({
    symbol: SymbolSchema,
    timeframe: TimeframeSchema.default('1d'),
    from: timeBound('from').optional(),
    to: timeBound('to').optional(),
    ...BacktestSettingsInputSchema.shape,
  })
  .superRefine((body, ctx) => {
    if (body.from && body.to && body.from > body.to) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: `from (${body.from}) must not be after to (${body.to})` });
    }
    try {
      validateStrategyParams(body.strategy, body.params);
    } catch (err) {
      if (!(err instanceof z.ZodError)) throw err;
      for (const issue of err.issues) ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[] as (string | number)[], message: issue.message });
    }
  });

const StatusSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);

const LinksSchema = z.object({ self: z.string(), temporalUi: z.string() });

const SettingsOutSchema = z.object({
  strategy: z.string(),
  params: z.record(z.string(), z.union([z.number(), z.boolean()])),
  initialCash: z.number(),
  sizing: z.union([
    z.object({ mode: z.literal('equity-fraction'), fraction: z.number() }),
    z.object({ mode: z.literal('fixed-quantity'), quantity: z.number() }),
  ]),
  commissionPerOrder: z.number(),
  commissionRate: z.number(),
  slippageBps: z.number(),
  allowShort: z.boolean(),
  takeProfitPct: z.number().optional(),
  stopLossPct: z.number().optional(),
  trailingStopPct: z.number().optional(),
  intrabarPolicy: z.string(),
});

/** Non-finite metrics (a profit factor with no losing trade) are stored as the strings "Infinity" / "NaN". */
const MetricValue = z.union([z.number().nullable(), z.string()]);

const JobSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  status: StatusSchema,
  symbol: z.string(),
  timeframe: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  settings: SettingsOutSchema,
  requestedBy: z.string(),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  links: LinksSchema,
});

const ProgressSchema = z.object({
  phase: z.string(),
  barsDone: z.number(),
  barsTotal: z.number(),
  fraction: z.number(),
  source: z.enum(['workflow', 'job']).describe('workflow: live from the workflow query; job: derived from the job row'),
});

const ResultSchema = z.object({
  bars: z.number().int(),
  finalEquity: z.number(),
  cash: z.number(),
  position: z.number(),
  metrics: z.record(z.string(), MetricValue),
  assumptions: z.record(z.string(), z.unknown()),
  equityCurve: z.array(z.object({ ts: z.number(), equity: z.number() })),
  trades: z.number().int().describe('number of fills; list them at /v1/backtests/{id}/trades'),
});

const JobDetailSchema = JobSchema.extend({ progress: ProgressSchema, result: ResultSchema.optional() });

const CreatedSchema = z.object({ id: z.uuid(), workflowId: z.string(), status: z.literal('queued'), links: LinksSchema });

const TradeSchema = z.object({
  seq: z.number().int(),
  side: z.enum(['buy', 'sell']),
  time: z.string(),
  price: z.number(),
  qty: z.number(),
  fee: z.number(),
  reason: z.string(),
  realizedPnl: z.number(),
});

const CancelBodySchema = z.strictObject({ reason: z.string().max(500).optional() }).nullish();

/** Backtest jobs: start (a Temporal workflow on the cpu queue), list, inspect with live progress, trades, cancel. */
export function backtestRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { config, db, temporal } = deps;
  const services = { db, temporal, inflight };
  const uiBase = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  const links = (job: { id: string; workflow_id: string }) => ({
    self: `/v1/backtests/${job.id}`,
    temporalUi: `${uiBase}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(job.workflow_id)}`,
  });
  const jobView = (j: BacktestJobRow) => ({
    id: j.id,
    workflowId: j.workflow_id,
    status: j.status,
    symbol: j.symbol,
    timeframe: j.timeframe,
    from: iso(j.from_ts),
    to: iso(j.to_ts),
    settings: j.settings,
    requestedBy: j.requested_by,
    error: j.error,
    createdAt: iso(j.created_at)!,
    startedAt: iso(j.started_at),
    finishedAt: iso(j.finished_at),
    links: links(j),
  });
  const getJobOr404 = async (id: string) => {
    const job = await getBacktestJob(db, id);
    if (!job) throw notFound(`no backtest ${id}`);
    return job;
  };

  return async (app) => {
    app.post(
      '/v1/backtests',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: 'Start a backtest job (runs as a Temporal workflow on the cpu queue)',
          tags: ['backtests'],
          security: [{ bearer: [] }],
          body: BacktestRequestSchema,
          response: { 202: CreatedSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
        },
      },
      async (request, reply) => {
        const { symbol, timeframe, from, to, ...settingsInput } = request.body;
        const settings = parseBacktestSettings(settingsInput);
        const { id, workflowId } = await startBacktest({ ...services, log: request.log }, { symbol, timeframe, from, to, settings, by: principalOf(request).name });
        return reply.code(202).send({ id, workflowId, status: 'queued' as const, links: links({ id, workflow_id: workflowId }) });
      },
    );

    app.get(
      '/v1/backtests',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Recent backtest jobs, newest first',
          tags: ['backtests'],
          security: [{ bearer: [] }],
          querystring: PageQuerySchema,
          response: { 200: z.object({ jobs: z.array(JobSchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { limit, offset } = request.query;
        const rows = await listBacktestJobs(db, limit, offset);
        return { jobs: rows.map(jobView), limit, offset };
      },
    );

    app.get(
      '/v1/backtests/:id',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'One backtest job: status, live progress while it runs, and its result once completed',
          tags: ['backtests'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          response: { 200: JobDetailSchema, ...errorResponses(400, 401, 403, 404, 503) },
        },
      },
      async (request) => {
        const job = await getJobOr404(request.params.id);
        let progress: z.infer<typeof ProgressSchema> = {
          phase: job.status,
          barsDone: 0,
          barsTotal: 0,
          fraction: job.status === 'completed' ? 1 : 0,
          source: 'job',
        };
        const p = await backtestProgress({ ...services, log: request.log }, job);
        if (p) progress = { phase: p.phase, barsDone: p.barsDone, barsTotal: p.barsTotal, fraction: p.fraction, source: 'workflow' };
        const view = { ...jobView(job), progress };
        if (job.status !== 'completed') return view;
        const [result, trades] = await Promise.all([getBacktestResult(db, job.id), countBacktestTrades(db, job.id)]);
        if (!result) return view;
        progress.barsDone = progress.barsTotal = result.bars;
        return {
          ...view,
          result: {
            bars: result.bars,
            finalEquity: result.final_equity,
            cash: result.cash,
            position: result.position,
            metrics: result.metrics as unknown as Record<string, number | string | null>,
            assumptions: result.assumptions as unknown as Record<string, unknown>,
            equityCurve: result.equity_curve,
            trades,
          },
        };
      },
    );

    app.get(
      '/v1/backtests/:id/trades',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'The fills of a backtest, in order',
          tags: ['backtests'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          querystring: PageQuerySchema,
          response: {
            200: z.object({ id: z.uuid(), total: z.number().int(), limit: z.number(), offset: z.number(), trades: z.array(TradeSchema) }),
            ...errorResponses(400, 401, 403, 404, 503),
          },
        },
      },
      async (request) => {
        const job = await getJobOr404(request.params.id);
        const { limit, offset } = request.query;
        const [rows, total] = await Promise.all([listBacktestTrades(db, job.id, limit, offset), countBacktestTrades(db, job.id)]);
        return {
          id: job.id,
          total,
          limit,
          offset,
          trades: rows.map((t) => ({
            seq: t.seq,
            side: t.side,
            time: iso(t.ts)!,
            price: t.price,
            qty: t.qty,
            fee: t.fee,
            reason: t.reason,
            realizedPnl: t.realized_pnl,
          })),
        };
      },
    );

    app.post(
      '/v1/backtests/:id/cancel',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          summary: 'Ask a queued or running backtest to stop',
          tags: ['backtests'],
          security: [{ bearer: [] }],
          params: IdParamsSchema,
          body: CancelBodySchema,
          response: {
            202: z.object({ id: z.uuid(), status: z.literal('cancelling') }),
            ...errorResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const job = await getJobOr404(request.params.id);
        await cancelBacktest({ ...services, log: request.log }, job, principalOf(request).name, request.body?.reason);
        return reply.code(202).send({ id: job.id, status: 'cancelling' as const });
      },
    );
  };
}
