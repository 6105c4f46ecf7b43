import type { Queryable } from '../db/sql/queryable';
import { listScanCells, type ScanCellRow } from '../db/sql/stress-scan-cells';
import type { ScanJobRow } from '../db/sql/stress-scan-jobs';

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
