import { randomUUID } from 'node:crypto';
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import type { Pool } from 'pg';
import { barSpan, loadBarColumns } from '../db/sql/bars';
import type { Queryable } from '../db/sql/queryable';
import { listScanCells, type ScanCellRow } from '../db/sql/stress-scan-cells';
import { finishScanJob, insertScanJob, type ScanJobRow } from '../db/sql/stress-scan-jobs';
import { resolveBlackSwan } from '../domain/scan/black-swan';
import { specError } from '../domain/scan/errors';
import { planScan } from '../domain/scan/plan';
import { prepareScan, type PreparedScan } from '../domain/scan/prepare';
import { parseScanSpec } from '../domain/scan/spec';
import { thousands } from '../domain/scan/space';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { StressScanWorkflowInput } from '../workflows/stress-scan/messages';
import type { stressScanWorkflow } from '../workflows/stress-scan/workflow';
import { TASK_QUEUES } from '../workflows/task-queues';

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

/** "param_scan · sma-cross · ORCL 1d · 1,200 cells": the scan at a glance, for the Temporal UI. */
export function scanLabel(scan: PreparedScan, symbol: string, timeframe: string, bars: number): string {
  const { spec } = scan;
  const size =
    spec.type === 'monte_carlo'
      ? `${thousands(spec.monteCarlo.paths)} paths`
      : spec.type === 'black_swan'
        ? 'crises and shocks'
        : `${thousands(scan.cells.length)} cells${spec.walkForward ? ', walk-forward' : ''}`;
  return `${spec.type} · ${scan.base.strategy} · ${symbol} ${timeframe} · ${size} · ${thousands(bars)} bars`;
}

/** How a stress scan's workflow is started (the API, the benchmark): id `stress-scan-<job id>`, the cpu queue, its search attributes and summary. */
export function stressScanStartOptions(input: StressScanWorkflowInput & { label: string }, scan: PreparedScan, symbol: string): WorkflowStartOptions<typeof stressScanWorkflow> {
  return {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: `stress-scan-${input.jobId}`,
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: input.label,
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.jobType, value: 'stress_scan' },
      { key: SEARCH_ATTRIBUTES.symbol, value: symbol },
      { key: SEARCH_ATTRIBUTES.strategy, value: scan.base.strategy },
    ],
  };
}

/**
 * Checks a request against the stored bars before anything starts: the request itself (ScanSpecError: an empty or
 * oversized grid, unknown parameters, ...), bars in the window, walk-forward windows the bars can hold, black-swan
 * crises and shock dates. Pins the bars (first, last, count) and plans the batches.
 */
export async function checkStressScan(db: Pool, req: StressScanRequest) {
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

/** How a caller wraps its Temporal calls (the API: a deadline, a timeout, tracking for shutdown). */
export type TemporalCall = <T>(call: () => Promise<T>) => Promise<T>;

/**
 * Records a checked scan as a queued job and starts its workflow; when Temporal cannot be reached the job is marked
 * failed and the error thrown. `workflow` passes options to the workflow (tests and benchmarks lower its budgets).
 */
export async function startStressScan(
  deps: { db: Pool; temporal: Client; call?: TemporalCall },
  req: StressScanRequest,
  requestedBy: string,
  workflow: { historyBudget?: number; maxInFlight?: number } = {},
) {
  const checked = await checkStressScan(deps.db, req);
  const id = randomUUID();
  const workflowId = `stress-scan-${id}`;
  const { scan, plan } = checked;
  await insertScanJob(deps.db, {
    id, workflowId, symbol: req.symbol, timeframe: req.timeframe, from: req.from, to: req.to, firstBar: checked.first, lastBar: checked.last, bars: checked.bars,
    spec: scan.spec, paramsVersion: scan.paramsVersion, plan, requestedBy,
  });
  const label = scanLabel(scan, req.symbol, req.timeframe, checked.bars);
  try {
    const call = deps.call ?? ((f) => f());
    await call(() => deps.temporal.workflow.start<typeof stressScanWorkflow>('stressScanWorkflow', stressScanStartOptions({ jobId: id, label, ...workflow }, scan, req.symbol)));
  } catch (err) {
    await finishScanJob(deps.db, id, 'failed', 'could not start the workflow (Temporal unavailable)').catch(() => undefined);
    throw err;
  }
  return { id, workflowId, plan, label };
}

const jsonNumber = (v: number) => (Number.isFinite(v) ? v : String(v));
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A stored cell as the scan document shows it (non-finite numbers as strings, as `scan --local --json` prints them). */
export function cellView(r: ScanCellRow) {
  return {
    cell: Number(r.cell),
    params: r.params,
    finalEquity: r.final_equity,
    cash: r.cash,
    position: r.position,
    trades: r.trades,
    metrics: r.metrics,
    rank: r.rank,
    objective: jsonNumber(r.objective),
    eligible: r.eligible,
  };
}

/**
 * A finished scan as one document in the shape `scan --local --json` prints: the series, `data` (file null: the bars
 * are the stored series; the import refused bad rows already), then the result with its best `cellLimit` cells.
 */
export async function scanDocument(db: Queryable, job: ScanJobRow, cellLimit: number): Promise<Record<string, unknown> | undefined> {
  if (!job.result) return undefined;
  const { type, assumptions, bars, ...rest } = job.result;
  const cells = cellLimit > 0 ? await listScanCells(db, job.id, { sort: 'rank', order: 'asc', limit: cellLimit, offset: 0 }) : [];
  return {
    symbol: job.symbol,
    timeframe: job.timeframe,
    from: iso(job.from_ts),
    to: iso(job.to_ts),
    data: { file: null, rows: job.bars, rejected: 0, firstTs: iso(job.first_bar_ts), lastTs: iso(job.last_bar_ts) },
    type,
    assumptions,
    bars,
    cells: cells.map(cellView),
    ...rest,
  };
}
