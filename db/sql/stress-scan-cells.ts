import type { Metrics } from '../../domain/backtest/types';
import type { RankedCell } from '../../domain/scan/scan';
import { jsonSafe } from './json';
import type { Queryable } from './queryable';

/** A cell as a batch stores it: its run and its score (rank comes when the scan finishes). */
export type ScoredCell = Omit<RankedCell, 'rank'>;

export interface ScanCellRow {
  cell: string;
  params: Record<string, number>;
  final_equity: number;
  cash: number;
  position: number;
  trades: number;
  /** non-finite values as strings (json.ts) */
  metrics: Record<string, number | string>;
  objective: number;
  eligible: boolean;
  rank: number | null;
}

/** Which of these cells are stored already. */
export async function storedCells(db: Queryable, jobId: string, cells: readonly number[]): Promise<Set<number>> {
  const { rows } = await db.query<{ cell: string }>('SELECT cell FROM stress_scan_cells WHERE job_id = $1 AND cell = ANY($2::bigint[])', [jobId, cells]);
  return new Set(rows.map((r) => Number(r.cell)));
}

/** Inserts a batch's cells in one statement; a cell stored before keeps its first row. Returns the rows inserted. */
export async function insertCells(db: Queryable, jobId: string, cells: readonly ScoredCell[]): Promise<number> {
  if (cells.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO stress_scan_cells (job_id, cell, params, final_equity, cash, position, trades, metrics, objective, eligible)
     SELECT $1, t.cell, t.params::json, t.final_equity, t.cash, t.position, t.trades, t.metrics::json, t.objective, t.eligible
     FROM unnest($2::bigint[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::int[], $8::text[], $9::float8[], $10::bool[])
       AS t(cell, params, final_equity, cash, position, trades, metrics, objective, eligible)
     ON CONFLICT (job_id, cell) DO NOTHING`,
    [
      jobId,
      cells.map((c) => c.cell),
      cells.map((c) => JSON.stringify(c.params)),
      cells.map((c) => c.finalEquity),
      cells.map((c) => c.cash),
      cells.map((c) => c.position),
      cells.map((c) => c.trades),
      cells.map((c) => jsonSafe(c.metrics)),
      cells.map((c) => c.objective),
      cells.map((c) => c.eligible),
    ],
  );
  return rowCount ?? 0;
}

/**
 * Ranks a scan's cells in one statement, in the order of domain/scan/objective.ts compareScores: eligible first,
 * NaN objectives last (Postgres sorts NaN above every number, and NaN = NaN), higher objective first, earlier cell.
 */
export async function rankScanCells(db: Queryable, jobId: string): Promise<void> {
  await db.query(
    `UPDATE stress_scan_cells c SET rank = r.rank
     FROM (SELECT cell, row_number() OVER (ORDER BY eligible DESC, (objective = 'NaN'::float8) ASC, objective DESC, cell ASC) AS rank
           FROM stress_scan_cells WHERE job_id = $1) r
     WHERE c.job_id = $1 AND c.cell = r.cell`,
    [jobId],
  );
}

const METRIC_SORTS = ['totalReturn', 'cagr', 'sharpe', 'sortino', 'maxDrawdown', 'maxDrawdownBars', 'winRate', 'profitFactor', 'expectancy', 'exposure', 'realizedPnl', 'unrealizedPnl'] as const satisfies ReadonlyArray<keyof Metrics>;
/** What cells can be sorted by: their rank and cell index, the stored columns, and each metric. */
export const CELL_SORTS = ['rank', 'cell', 'objective', 'finalEquity', 'trades', 'roundTrips', ...METRIC_SORTS] as const;
export type CellSort = (typeof CELL_SORTS)[number];

/** SQL for each sort key; only these strings ever reach the ORDER BY. */
const SORT_SQL: Record<CellSort, string> = {
  rank: 'rank',
  cell: 'cell',
  objective: 'objective',
  finalEquity: 'final_equity',
  trades: 'trades',
  roundTrips: "(metrics->>'trades')::float8",
  ...(Object.fromEntries(METRIC_SORTS.map((m) => [m, `(metrics->>'${m}')::float8`])) as Record<(typeof METRIC_SORTS)[number], string>),
};

/** A page of a scan's cells in the given order (NaN values last either way; ties by rank, then cell). */
export async function listScanCells(db: Queryable, jobId: string, page: { sort: CellSort; order: 'asc' | 'desc'; limit: number; offset: number }): Promise<ScanCellRow[]> {
  const key = SORT_SQL[page.sort];
  const dir = page.order === 'desc' ? 'DESC' : 'ASC';
  const { rows } = await db.query<ScanCellRow & Record<string, unknown>>(
    `SELECT cell, params, final_equity, cash, position, trades, metrics, objective, eligible, rank FROM stress_scan_cells
     WHERE job_id = $1 ORDER BY (${key} = 'NaN'::float8) ASC NULLS LAST, ${key} ${dir} NULLS LAST, rank ASC NULLS LAST, cell ASC LIMIT $2 OFFSET $3`,
    [jobId, page.limit, page.offset],
  );
  return rows;
}

export async function countScanCells(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM stress_scan_cells WHERE job_id = $1', [jobId]);
  return Number(rows[0]?.n ?? 0);
}
