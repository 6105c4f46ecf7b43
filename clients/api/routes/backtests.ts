import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  finishBacktestJob,
  getBacktestJob,
  insertBacktestJob,
  listBacktestJobs,
  TERMINAL_JOB_STATUSES,
  type BacktestJobRow,
} from '../../../db/sql/backtest-jobs';
import { countBacktestTrades, getBacktestResult, listBacktestTrades } from '../../../db/sql/backtest-results';
import { BacktestSettingsInputSchema, parseBacktestSettings, validateStrategyParams } from '../../../domain/backtest/settings';
import { backtestProgressQuery, type BacktestProgress, type BacktestWorkflowInput } from '../../../workflows/backtest/messages';
import type { backtestWorkflow } from '../../../workflows/backtest/workflow';
import { SEARCH_ATTRIBUTES } from '../../../workflows/search-attributes';
import { TASK_QUEUES } from '../../../workflows/task-queues';
import type { ApiDeps } from '../app';
import type { InflightCalls } from '../inflight';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import { conflict, errorResponses, notFound, unavailable } from '../errors';
import { IdParamsSchema, iso, PageQuerySchema, SymbolSchema, timeBound, TimeframeSchema } from '../schemas';
import { withTimeout } from '../timeout';

const START_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 3_000;

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
        const principal = principalOf(request);
        const { symbol, timeframe, from, to, ...settingsInput } = request.body;
        const settings = parseBacktestSettings(settingsInput);
        const id = randomUUID();
        const workflowId = `backtest-${id}`;
        await insertBacktestJob(db, { id, workflowId, symbol, timeframe, from, to, settings, requestedBy: principal.name });

        const input: BacktestWorkflowInput = { jobId: id, symbol, timeframe, ...(from ? { from } : {}), ...(to ? { to } : {}), settings };
        try {
          await withTimeout(
            inflight.track(temporal.withDeadline(Date.now() + START_TIMEOUT_MS, () =>
              temporal.workflow.start<typeof backtestWorkflow>('backtestWorkflow', {
                taskQueue: TASK_QUEUES.cpu,
                workflowId,
                args: [input],
                typedSearchAttributes: [
                  { key: SEARCH_ATTRIBUTES.jobType, value: 'backtest' },
                  { key: SEARCH_ATTRIBUTES.symbol, value: symbol },
                  { key: SEARCH_ATTRIBUTES.strategy, value: settings.strategy },
                ],
              }),
            )),
            START_TIMEOUT_MS + 1_000,
            'starting the workflow timed out',
          );
        } catch (err) {
          request.log.error({ err: { message: (err as Error).message }, jobId: id }, 'could not start backtest workflow');
          await finishBacktestJob(db, id, 'failed', 'could not start the workflow (Temporal unavailable)').catch(() => undefined);
          throw unavailable('could not start the backtest: Temporal is unavailable; retry later');
        }
        request.log.info({ jobId: id, workflowId, symbol, strategy: settings.strategy, by: principal.name }, 'backtest started');
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
        if (!TERMINAL_JOB_STATUSES.includes(job.status)) {
          try {
            const p: BacktestProgress = await withTimeout(
              inflight.track(
                temporal.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => temporal.workflow.getHandle(job.workflow_id).query(backtestProgressQuery)),
              ),
              QUERY_TIMEOUT_MS + 500,
              'progress query timed out',
            );
            progress = { phase: p.phase, barsDone: p.barsDone, barsTotal: p.barsTotal, fraction: p.fraction, source: 'workflow' };
          } catch (err) {
            request.log.debug({ jobId: job.id, err: { message: (err as Error).message } }, 'progress query failed; using the job status');
          }
        }
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
        const principal = principalOf(request);
        const job = await getJobOr404(request.params.id);
        if (TERMINAL_JOB_STATUSES.includes(job.status)) throw conflict(`backtest ${job.id} is already ${job.status}`);
        try {
          await inflight.track(temporal.withDeadline(Date.now() + START_TIMEOUT_MS, () => temporal.workflow.getHandle(job.workflow_id).cancel()));
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw conflict(`backtest ${job.id} is not running`);
          throw err;
        }
        request.log.info({ jobId: job.id, by: principal.name, reason: request.body?.reason }, 'backtest cancel requested');
        return reply.code(202).send({ id: job.id, status: 'cancelling' as const });
      },
    );
  };
}
