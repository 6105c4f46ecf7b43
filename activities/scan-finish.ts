import { ApplicationFailure } from '@temporalio/activity';
import { numbersBack } from '../db/sql/json';
import type { Queryable } from '../db/sql/queryable';
import { countScanCells, insertCells, listScanCells, rankScanCells } from '../db/sql/stress-scan-cells';
import { completeScanJob } from '../db/sql/stress-scan-jobs';
import { countStageRuns, foldPicks, stageResults } from '../db/sql/stress-scan-runs';
import type { Metrics } from '../domain/backtest/types';
import type { BarColumns } from '../domain/bars';
import { blackSwanBase, resolveBlackSwan, shockReport, type ShockRun } from '../domain/scan/black-swan';
import { FanRecorder } from '../domain/scan/charts';
import { allocatePaths } from '../domain/scan/monte-carlo';
import { scoreOf } from '../domain/scan/objective';
import type { CellResult } from '../domain/scan/runner';
import { blackSwanCell, blockFanSteps, monteCarloScan, scanHeader, type BlockPaths } from '../domain/scan/scan';
import { cellParams } from '../domain/scan/space';
import { walkForwardFromPicks } from '../domain/scan/walk-forward';
import { ErrorType } from '../workflows/errors';
import type { StressScanSummary } from '../workflows/stress-scan/messages';
import type { ScanJob } from './scan-context';

type StoredRun = Omit<CellResult, 'cell' | 'params' | 'metrics'> & { metrics: Record<string, number | string> };

/**
 * A scan's final step, after every batch stored its runs: what comes after them (walk-forward test runs from each
 * fold's best train run, the Monte Carlo and black-swan base runs and summaries), the cells ranked in SQL, and the
 * document stored with the job's completed status. Idempotent: a retry recomputes the same document and stores
 * nothing twice.
 */
export async function finishScan(db: Queryable, job: ScanJob, bars: BarColumns, heartbeat: () => void): Promise<StressScanSummary> {
  const { scan, plan, row } = job;
  const { spec } = scan;
  await checkStored(db, job);
  const score = (c: CellResult) => ({ ...c, ...scoreOf(c, spec.objective, scan.base.initialCash, spec.maxDrawdown) });
  const doc: Record<string, unknown> = { ...scanHeader(bars, scan) };

  if (spec.type === 'param_scan' || spec.type === 'optimization') {
    if (spec.walkForward) {
      const picks = (await foldPicks(db, row.id)).map((p) => cellOfRun(p.cell, cellParams(scan.space, p.cell), p.result as StoredRun));
      const wf = walkForwardFromPicks(bars, scan, picks, heartbeat);
      doc.folds = wf.folds;
      doc.walkForward = wf.summary;
    }
  } else if (spec.type === 'monte_carlo') {
    const paths = spec.monteCarlo.methods.includes('block-bootstrap') ? blockPaths(await stageResults(db, row.id, 'paths'), bars, spec.monteCarlo.paths) : undefined;
    const mc = monteCarloScan(bars, scan, paths);
    await insertCells(db, row.id, [score(mc.cell)]);
    doc.monteCarlo = mc.report;
  } else {
    const base = blackSwanBase(bars, scan.base, resolveBlackSwan(bars, scan.base, spec.blackSwan).windows);
    const shocks = (await stageResults(db, row.id, 'shocks')).map((r) => {
      const run = r.result as ShockRun;
      return shockReport({ ...run, metrics: numbersBack<Metrics>(run.metrics as unknown as Record<string, number | string>) }, base.base.finalEquity);
    });
    await insertCells(db, row.id, [score(blackSwanCell(scan, base.base))]);
    doc.blackSwan = { crises: base.crises, notCovered: base.notCovered, shocks };
  }

  heartbeat();
  await rankScanCells(db, row.id);
  await completeScanJob(db, row.id, doc, plan.finishRuns);
  const [best] = await listScanCells(db, row.id, { sort: 'rank', order: 'asc', limit: 1, offset: 0 });
  return {
    runs: plan.runsTotal,
    cells: await countScanCells(db, row.id),
    best: best ? { cell: Number(best.cell), params: best.params, objective: Number.isFinite(best.objective) ? best.objective : String(best.objective) } : null,
  };
}

/** Every stage of the plan has all of its runs stored (else a batch went missing: never papered over). */
async function checkStored(db: Queryable, job: ScanJob): Promise<void> {
  const runs = await countStageRuns(db, job.row.id);
  const cells = job.plan.stages.some((s) => s.stage === 'cells') ? await countScanCells(db, job.row.id) : 0;
  for (const s of job.plan.stages) {
    const stored = s.stage === 'cells' ? cells : (runs.get(s.stage) ?? 0);
    if (stored !== s.runs) {
      throw ApplicationFailure.nonRetryable(`stress scan ${job.row.id}: ${stored} of the ${s.runs} ${s.stage} runs are stored`, ErrorType.ScanIncomplete);
    }
  }
}

function cellOfRun(cell: number, params: Record<string, number>, r: StoredRun): CellResult {
  return { cell, params, finalEquity: r.finalEquity, cash: r.cash, position: r.position, trades: r.trades, metrics: numbersBack<Metrics>(r.metrics) };
}

/** Stored paths (in run order) as the arrays summarizePaths reads, and the fan of the first of them. */
function blockPaths(rows: Array<{ run: number; result: unknown }>, bars: BarColumns, paths: number): BlockPaths {
  const stats = allocatePaths(rows.length);
  const fan = new FanRecorder(blockFanSteps(bars), paths);
  rows.forEach((r, k) => {
    const p = r.result as { finalReturn: number | string; maxDrawdown: number | string; equity?: Array<number | string> };
    stats.finalReturn[k] = Number(p.finalReturn);
    stats.maxDrawdown[k] = Number(p.maxDrawdown);
    if (r.run < fan.paths) p.equity!.forEach((eq, s) => fan.set(r.run, s, Number(eq)));
  });
  return { stats, fan };
}
