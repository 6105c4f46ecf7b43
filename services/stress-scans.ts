import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Pool } from 'pg';
import { barSpan, loadBarColumns } from '../db/sql/bars';
import { finishScanJob, insertScanJob, TERMINAL_SCAN_STATUSES, type ScanJobRow } from '../db/sql/stress-scan-jobs';
import type { ScanPlan } from '../domain/scan/batches';
import { resolveBlackSwan } from '../domain/scan/black-swan';
import { specError } from '../domain/scan/errors';
import { planScan } from '../domain/scan/plan';
import { prepareScan, type PreparedScan } from '../domain/scan/prepare';
import { parseScanSpec } from '../domain/scan/spec';
import { thousands } from '../domain/scan/space';
import { stressScanProgressQuery, type StressScanProgress } from '../workflows/stress-scan/messages';
import type { stressScanWorkflow } from '../workflows/stress-scan/workflow';
import { stressScanWorkflowId } from '../workflows/workflow-ids';
import { logOf, type ServiceDeps } from './deps';
import { conflict, unavailable } from './errors';
import { stressScanStartOptions } from './start-options';
import { temporalCall } from './temporal-call';

const START_TIMEOUT_MS = 5_000;
const QUERY_TIMEOUT_MS = 3_000;

/** A scan request: the stored series, an optional inclusive window, and the scan (domain/scan/spec.ts). */
export interface StressScanRequest {
  symbol: string;
  timeframe: string;
  /** inclusive ISO bounds */
  from?: string;
  to?: string;
  spec: unknown;
}

/** The largest grid the API runs: enumerating and checking a million cells takes the request a few seconds already. */
const API_MAX_CELLS = 1_000_000;

/** "param_scan · sma-cross · ORCL 1d · 2014-01-02..2018-12-31 · 1,200 cells · 1,258 bars": the scan at a glance, for the Temporal UI. */
function scanLabel(scan: PreparedScan, symbol: string, timeframe: string, bars: { count: number; first: Date; last: Date }): string {
  const { spec } = scan;
  const size =
    spec.type === 'monte_carlo'
      ? `${thousands(spec.monteCarlo.paths)} paths`
      : spec.type === 'black_swan'
        ? 'crises and shocks'
        : `${thousands(scan.cells.length)} cells${spec.walkForward ? ', walk-forward' : ''}`;
  const range = `${bars.first.toISOString().slice(0, 10)}..${bars.last.toISOString().slice(0, 10)}`;
  return `${spec.type} · ${scan.base.strategy} · ${symbol} ${timeframe} · ${range} · ${size} · ${thousands(bars.count)} bars`;
}

/**
 * Checks a request against the stored bars before anything starts: the request itself (ScanSpecError: an empty or
 * oversized grid, unknown parameters, ...), bars in the window, walk-forward windows the bars can hold, black-swan
 * crises and shock dates. Pins the bars (first, last, count) and plans the batches.
 */
async function checkStressScan(db: Pool, req: StressScanRequest) {
  const { maxCells } = parseScanSpec(req.spec);
  if (maxCells > API_MAX_CELLS) throw specError(['maxCells'], `at most ${thousands(API_MAX_CELLS)} cells through the API (run larger grids with scan --local, or sample them with a random sampler)`);
  const scan = prepareScan(req.spec);
  const range = { symbol: req.symbol, timeframe: req.timeframe, from: req.from, to: req.to };
  const span = await barSpan(db, range);
  if (span.count === 0 || !span.first || !span.last) {
    const window = req.from || req.to ? ` between ${req.from ?? 'the start'} and ${req.to ?? 'the end'}` : '';
    throw specError(['symbol'], `no bars stored for ${req.symbol} ${req.timeframe}${window}; import some first`);
  }
  const plan = planScan(scan, span.count);
  if (scan.spec.type === 'black_swan') {
    // shock dates and crisis names are checked against the bars themselves
    const bars = await loadBarColumns(db, { ...range, from: span.first.toISOString(), to: span.last.toISOString() }, { expected: span.count });
    resolveBlackSwan(bars, scan.base, scan.spec.blackSwan);
  }
  return { scan, plan, first: span.first, last: span.last, bars: span.count };
}

/** The plan with every stage cut into batches of `batchRuns` runs (tests and history recordings: many small batches). */
function rebatch(plan: ScanPlan, batchRuns: number): ScanPlan {
  const stages = plan.stages.map((s) => ({ ...s, batchRuns }));
  return { ...plan, stages, batches: stages.reduce((n, s) => n + Math.ceil(s.runs / s.batchRuns), 0) };
}

export interface RecordedStressScan {
  id: string;
  workflowId: string;
  scan: PreparedScan;
  plan: ScanPlan;
  label: string;
}

/**
 * Checks a scan (ScanSpecError when the request or the stored bars refuse it) and records it as a queued job under
 * its workflow id, the row its workflow verifies at start and works from. `batchRuns` cuts the plan into smaller
 * batches (tests and history recordings only; the API plans from the bars).
 */
export async function recordStressScan(db: Pool, req: StressScanRequest, requestedBy: string, opts: { batchRuns?: number } = {}): Promise<RecordedStressScan> {
  const checked = await checkStressScan(db, req);
  const id = randomUUID();
  const workflowId = stressScanWorkflowId(id);
  const { scan } = checked;
  const plan = opts.batchRuns ? rebatch(checked.plan, opts.batchRuns) : checked.plan;
  await insertScanJob(db, {
    id, workflowId, symbol: req.symbol, timeframe: req.timeframe, from: req.from, to: req.to, firstBar: checked.first, lastBar: checked.last, bars: checked.bars,
    spec: scan.spec, paramsVersion: scan.paramsVersion, plan, requestedBy,
  });
  return { id, workflowId, scan, plan, label: scanLabel(scan, req.symbol, req.timeframe, { count: checked.bars, first: checked.first, last: checked.last }) };
}

/**
 * How every stress scan starts (the API; the benchmark and the kill test go through the API): the checked scan
 * recorded as a queued job, then stressScanWorkflow with the start options of services/start-options.ts. If Temporal
 * cannot be reached the job is recorded failed and the error is `unavailable`. `workflow` passes knobs to the
 * workflow (tests and benchmarks lower its budgets).
 */
export async function startStressScan(
  deps: ServiceDeps,
  req: StressScanRequest,
  requestedBy: string,
  workflow: { historyBudget?: number; maxInFlight?: number } = {},
): Promise<RecordedStressScan & { handle: WorkflowHandleWithFirstExecutionRunId<typeof stressScanWorkflow> }> {
  const recorded = await recordStressScan(deps.db, req, requestedBy);
  const { id, scan, label } = recorded;
  try {
    const handle = await temporalCall(deps, 'starting the workflow', START_TIMEOUT_MS, () =>
      deps.temporal.workflow.start<typeof stressScanWorkflow>('stressScanWorkflow', stressScanStartOptions({ jobId: id, label, ...workflow }, { symbol: req.symbol, strategy: scan.base.strategy })),
    );
    logOf(deps).info({ jobId: id, label, by: requestedBy }, 'stress scan started');
    return { ...recorded, handle };
  } catch (err) {
    logOf(deps).error({ err: { message: (err as Error).message }, jobId: id }, 'could not start stress scan workflow');
    await finishScanJob(deps.db, id, 'failed', 'could not start the workflow (Temporal unavailable)').catch(() => undefined);
    throw unavailable('could not start the stress scan: Temporal is unavailable; retry later');
  }
}

/** Live progress from the workflow's query, or undefined when it does not answer in time (the caller uses the row). */
export async function stressScanProgress(deps: ServiceDeps, job: Pick<ScanJobRow, 'id' | 'status' | 'workflow_id'>): Promise<StressScanProgress | undefined> {
  if (TERMINAL_SCAN_STATUSES.includes(job.status)) return undefined;
  return temporalCall(deps, 'progress query', QUERY_TIMEOUT_MS, () => deps.temporal.workflow.getHandle(job.workflow_id).query(stressScanProgressQuery)).catch((err: Error) => {
    logOf(deps).debug({ jobId: job.id, err: { message: err.message } }, 'progress query failed; using the job row');
    return undefined;
  });
}

/** Asks a queued or running scan's workflow to stop; `conflict` when it has finished or is not running. */
export async function cancelStressScan(deps: ServiceDeps, job: Pick<ScanJobRow, 'id' | 'status' | 'workflow_id'>, by: string, reason?: string): Promise<void> {
  if (TERMINAL_SCAN_STATUSES.includes(job.status)) throw conflict(`stress scan ${job.id} is already ${job.status}`);
  try {
    await temporalCall(deps, 'cancel', START_TIMEOUT_MS, () => deps.temporal.workflow.getHandle(job.workflow_id).cancel());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw conflict(`stress scan ${job.id} is not running`);
    throw err;
  }
  logOf(deps).info({ jobId: job.id, by, reason }, 'stress scan cancel requested');
}
