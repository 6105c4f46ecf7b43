import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { countScanCells, listScanCells, type CellSort } from '../../../db/sql/stress-scan-cells';
import { getScanJob, listScanJobs, type ScanJobRow } from '../../../db/sql/stress-scan-jobs';
import { ScanSpecError } from '../../../domain/scan/errors';
import { cellView, scanDocument } from '../../../services/stress-scan-document';
import { cancelStressScan, startStressScan, stressScanProgress } from '../../../services/stress-scans';
import type { InflightCalls } from '../../../services/temporal-call';
import { principalOf, ROLES_ANY, ROLES_TRADER } from '../auth';
import type { ApiDeps } from '../deps';
import { badRequest, errorResponses, notFound } from '../errors';
import { IdParamsSchema, iso, PageQuerySchema } from '../schemas';
import { CancelBodySchema, CellSchema, CellsQuerySchema, CreatedSchema, DetailQuerySchema, DetailSchema, JobSchema, type ProgressSchema, StressScanRequestSchema } from './stress-scan-schemas';

/** Lower is better for these, so they list ascending unless asked otherwise. */
const ASCENDING: readonly CellSort[] = ['rank', 'cell', 'maxDrawdown', 'maxDrawdownBars'];

/** Stress scans: start (checked against the stored bars first), list, inspect with live progress, cells, cancel. */
export function stressScanRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { config, db, temporal } = deps;
  const services = { db, temporal, inflight };
  const uiBase = config.TEMPORAL_UI_URL.replace(/\/+$/, '');
  const links = (j: { id: string; workflow_id: string }) => ({
    self: `/v1/stress-scans/${j.id}`,
    cells: `/v1/stress-scans/${j.id}/cells`,
    temporalUi: `${uiBase}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(j.workflow_id)}`,
  });
  const jobView = (j: Omit<ScanJobRow, 'result'>) => ({
    id: j.id,
    workflowId: j.workflow_id,
    status: j.status,
    type: j.type,
    symbol: j.symbol,
    timeframe: j.timeframe,
    from: iso(j.from_ts),
    to: iso(j.to_ts),
    bars: { count: j.bars, first: iso(j.first_bar_ts)!, last: iso(j.last_bar_ts)! },
    paramsVersion: j.params_version,
    requestedBy: j.requested_by,
    error: j.error,
    createdAt: iso(j.created_at)!,
    startedAt: iso(j.started_at),
    finishedAt: iso(j.finished_at),
    links: links(j),
  });
  const getJobOr404 = async (id: string) => {
    const job = await getScanJob(db, id);
    if (!job) throw notFound(`no stress scan ${id}`);
    return job;
  };
  const doc = { tags: ['stress-scans'], security: [{ bearer: [] }] };

  return async (app) => {
    app.post(
      '/v1/stress-scans',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          ...doc,
          summary: 'Start a stress scan (parameter scan, optimization with walk-forward, Monte Carlo, black swan) on the cpu queue',
          description: 'Checked before anything starts: an empty or oversized grid, unknown parameters, no bars, walk-forward windows longer than the stored bars, unknown crises or shock dates are a 400.',
          body: StressScanRequestSchema,
          response: { 202: CreatedSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
        },
      },
      async (request, reply) => {
        const { symbol, timeframe, from, to, ...spec } = request.body;
        let started: Awaited<ReturnType<typeof startStressScan>>;
        try {
          started = await startStressScan({ ...services, log: request.log }, { symbol, timeframe, from, to, spec }, principalOf(request).name);
        } catch (err) {
          if (err instanceof ScanSpecError) throw badRequest('invalid stress scan', err.issues.map((i) => ({ in: 'body' as const, path: i.path.join('.'), message: i.message })));
          throw err;
        }
        return reply.code(202).send({ id: started.id, workflowId: started.workflowId, status: 'queued' as const, runsTotal: started.plan.runsTotal, batches: started.plan.batches, links: links({ id: started.id, workflow_id: started.workflowId }) });
      },
    );

    app.get(
      '/v1/stress-scans',
      {
        config: { roles: ROLES_ANY },
        schema: { ...doc, summary: 'Recent stress scans, newest first', querystring: PageQuerySchema, response: { 200: z.object({ scans: z.array(JobSchema), limit: z.number(), offset: z.number() }), ...errorResponses(400, 401, 403, 503) } },
      },
      async (request) => {
        const { limit, offset } = request.query;
        return { scans: (await listScanJobs(db, limit, offset)).map(jobView), limit, offset };
      },
    );

    app.get(
      '/v1/stress-scans/:id',
      {
        config: { roles: ROLES_ANY },
        schema: {
          ...doc,
          summary: 'One stress scan: status and live progress; once completed, the document `scan --local --json` prints',
          params: IdParamsSchema,
          querystring: DetailQuerySchema,
          response: { 200: DetailSchema, ...errorResponses(400, 401, 403, 404, 503) },
        },
      },
      async (request) => {
        const job = await getJobOr404(request.params.id);
        const fromRow = { phase: job.status, runsDone: job.runs_done, runsTotal: job.runs_total, fraction: job.runs_total ? job.runs_done / job.runs_total : 0, batchesTotal: job.plan.batches, source: 'job' as const };
        const p = await stressScanProgress({ ...services, log: request.log }, job);
        const progress: z.infer<typeof ProgressSchema> = p
          ? { phase: p.phase, runsDone: p.runsDone, runsTotal: p.runsTotal, fraction: p.fraction, batchesDone: p.batchesDone, batchesTotal: p.batchesTotal, workflowRuns: p.workflowRuns, source: 'workflow' }
          : fromRow;
        const [cellsTotal, document] = await Promise.all([countScanCells(db, job.id), scanDocument(db, job, request.query.cells)]);
        return { ...jobView(job), progress, spec: job.spec as unknown as Record<string, unknown>, cellsTotal, ...document } as z.infer<typeof DetailSchema>;
      },
    );

    app.get(
      '/v1/stress-scans/:id/cells',
      {
        config: { roles: ROLES_ANY },
        schema: {
          ...doc,
          summary: "A page of a scan's stored cells, sorted by rank, objective, final equity or a metric",
          params: IdParamsSchema,
          querystring: CellsQuerySchema,
          response: {
            200: z.object({ id: z.uuid(), total: z.number().int(), sort: z.string(), order: z.enum(['asc', 'desc']), limit: z.number(), offset: z.number(), cells: z.array(CellSchema) }),
            ...errorResponses(400, 401, 403, 404, 503),
          },
        },
      },
      async (request) => {
        const job = await getJobOr404(request.params.id);
        const { sort, limit, offset } = request.query;
        const order = request.query.order ?? (ASCENDING.includes(sort) ? 'asc' : 'desc');
        const [rows, total] = await Promise.all([listScanCells(db, job.id, { sort, order, limit, offset }), countScanCells(db, job.id)]);
        return { id: job.id, total, sort, order, limit, offset, cells: rows.map(cellView) };
      },
    );

    app.post(
      '/v1/stress-scans/:id/cancel',
      {
        config: { roles: ROLES_TRADER },
        schema: {
          ...doc,
          summary: 'Ask a queued or running stress scan to stop (the batches in flight stop at their next heartbeat)',
          params: IdParamsSchema,
          body: CancelBodySchema,
          response: { 202: z.object({ id: z.uuid(), status: z.literal('cancelling') }), ...errorResponses(400, 401, 403, 404, 409, 503) },
        },
      },
      async (request, reply) => {
        const job = await getJobOr404(request.params.id);
        await cancelStressScan({ ...services, log: request.log }, job, principalOf(request).name, request.body?.reason);
        return reply.code(202).send({ id: job.id, status: 'cancelling' as const });
      },
    );
  };
}
