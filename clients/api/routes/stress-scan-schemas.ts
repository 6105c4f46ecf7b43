import { z } from 'zod';
import { CELL_SORTS } from '../../../db/sql/stress-scan-cells';
import { ScanSpecSchema } from '../../../domain/scan/spec';
import { PageQuerySchema, SymbolSchema, timeBound, TimeframeSchema } from '../schemas';

/** The stress-scan routes' request and answer schemas (OpenAPI is generated from them). */
/** POST /v1/stress-scans: the stored series, an optional inclusive window, and the scan (as `scan --local` takes it). */
export const StressScanRequestSchema = z
  .strictObject({ symbol: SymbolSchema, timeframe: TimeframeSchema.default('1d'), from: timeBound('from').optional(), to: timeBound('to').optional(), ...ScanSpecSchema.shape })
  .superRefine((body, ctx) => {
    if (body.from && body.to && body.from > body.to) ctx.addIssue({ code: 'custom', path: ['from'], message: `from (${body.from}) must not be after to (${body.to})` });
  });

export const StatusSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
export const LinksSchema = z.object({ self: z.string(), cells: z.string(), temporalUi: z.string() });
export const ProgressSchema = z.object({
  phase: z.string(),
  runsDone: z.number().int(),
  runsTotal: z.number().int(),
  fraction: z.number(),
  batchesDone: z.number().int().optional(),
  batchesTotal: z.number().int(),
  workflowRuns: z.number().int().optional(),
  source: z.enum(['workflow', 'job']).describe('workflow: live from the workflow query; job: the runs stored, from the job row'),
});
/** A job's own fields; the scan's (symbol .. bars) follow in the order of the scan document. */
const JobFields = {
  id: z.uuid(),
  workflowId: z.string(),
  status: StatusSchema,
  paramsVersion: z.string(),
  requestedBy: z.string(),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  links: LinksSchema,
};
const SeriesFields = {
  symbol: z.string(),
  timeframe: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
};
const PinnedBarsSchema = z.object({ count: z.number().int(), first: z.string(), last: z.string() }).describe('the bars the scan runs on, pinned when it was created');
export const JobSchema = z.object({ ...JobFields, ...SeriesFields, type: z.string(), bars: PinnedBarsSchema });
const MetricValue = z.union([z.number(), z.string()]).describe('non-finite values as "Infinity", "-Infinity", "NaN"');
/** Keys in the order `scan --local --json` prints a cell. */
export const CellSchema = z.object({
  cell: z.number().int(),
  params: z.record(z.string(), z.number()),
  finalEquity: z.number(),
  cash: z.number(),
  position: z.number(),
  trades: z.number().int().describe('fills'),
  metrics: z.record(z.string(), MetricValue),
  rank: z.number().int().nullable(),
  objective: MetricValue,
  eligible: z.boolean().describe('false: above the max-drawdown constraint, ranked after every eligible cell'),
});
/**
 * Job fields, then the scan document in the order `scan --local --json` prints it; the sections of its type (folds,
 * walkForward, monteCarlo, blackSwan) follow as they were stored.
 */
export const DetailSchema = z
  .object({
    ...JobFields,
    progress: ProgressSchema,
    spec: z.record(z.string(), z.unknown()).describe('the request as checked, defaults filled in'),
    cellsTotal: z.number().int(),
    ...SeriesFields,
    data: z.record(z.string(), z.unknown()).optional(),
    type: z.string(),
    assumptions: z.record(z.string(), z.unknown()).optional(),
    bars: PinnedBarsSchema,
    cells: z.array(CellSchema).optional().describe('finished scans: the best cells by rank (`cells` query parameter, default 10000: a heatmap of two parameters draws from them)'),
  })
  .loose()
  .describe('a finished scan carries the document `scan --local --json` prints: data, assumptions, cells, and folds, walkForward, monteCarlo or blackSwan by type');
export const CreatedSchema = z.object({ id: z.uuid(), workflowId: z.string(), status: z.literal('queued'), runsTotal: z.number().int(), batches: z.number().int(), links: LinksSchema });
export const DetailQuerySchema = z.strictObject({
  cells: z.coerce.number({ error: 'cells must be a number' }).int({ error: 'cells must be a whole number' }).min(0, { error: 'cells must be >= 0' }).max(100_000, { error: 'cells must be at most 100000 (page through /cells for more)' }).default(10_000),
});
export const CellsQuerySchema = PageQuerySchema.extend({
  sort: z.enum(CELL_SORTS, { error: `sort must be one of: ${CELL_SORTS.join(', ')}` }).default('rank'),
  order: z.enum(['asc', 'desc'], { error: 'order must be asc or desc' }).optional().describe('default: asc for rank, cell and drawdowns, desc otherwise'),
  limit: PageQuerySchema.shape.limit.default(100),
});
export const CancelBodySchema = z.strictObject({ reason: z.string().max(500).optional() }).nullish();
