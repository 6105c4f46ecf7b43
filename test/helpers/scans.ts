import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { toJson } from '../../clients/cli/local-backtest';
import { checkStressScan, scanDocument, type StressScanRequest } from '../../clients/stress-scans';
import { getScanJob, insertScanJob } from '../../db/sql/stress-scan-jobs';
import type { BarColumns } from '../../domain/bars';
import type { ScanPlan } from '../../domain/scan/batches';
import type { PreparedScan } from '../../domain/scan/prepare';
import { runScan } from '../../domain/scan/scan';

/** The plan with every stage cut into batches of `batchRuns` runs (tests make many small batches of a small scan). */
export function rebatch(plan: ScanPlan, batchRuns: number): ScanPlan {
  const stages = plan.stages.map((s) => ({ ...s, batchRuns }));
  return { ...plan, stages, batches: stages.reduce((n, s) => n + Math.ceil(s.runs / s.batchRuns), 0) };
}

/** A checked scan recorded as a queued job, as the API records it (optionally with smaller batches). */
export async function queuedScan(pool: Pool, req: StressScanRequest, opts: { batchRuns?: number } = {}): Promise<{ jobId: string; workflowId: string; scan: PreparedScan; plan: ScanPlan }> {
  const checked = await checkStressScan(pool, req);
  const plan = opts.batchRuns ? rebatch(checked.plan, opts.batchRuns) : checked.plan;
  const jobId = randomUUID();
  const workflowId = `stress-scan-${jobId}`;
  await insertScanJob(pool, {
    id: jobId, workflowId, symbol: req.symbol, timeframe: req.timeframe, from: req.from, to: req.to, firstBar: checked.first, lastBar: checked.last, bars: checked.bars,
    spec: checked.scan.spec, paramsVersion: checked.scan.paramsVersion, plan, requestedBy: 'test',
  });
  return { jobId, workflowId, scan: checked.scan, plan };
}

/** What `scan --local --json` prints for these bars (as a file holding exactly them), as text. */
export function localDocument(bars: BarColumns, scan: PreparedScan, symbol: string, timeframe: string): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const data = { file: null, rows: bars.length, rejected: 0, firstTs: iso(bars.ts[0]), lastTs: iso(bars.ts[bars.length - 1]) };
  return toJson({ symbol, timeframe, from: null, to: null, data, ...runScan(bars, scan) });
}

/** The stored document of a finished scan job, every cell included, as text. */
export async function storedDocument(pool: Pool, jobId: string): Promise<string> {
  const job = await getScanJob(pool, jobId);
  if (!job?.result) throw new Error(`stress scan ${jobId} has no result (status ${job?.status})`);
  return JSON.stringify(await scanDocument(pool, job, 10_000_000));
}
