import type { ScanStage } from '../../domain/scan/batches';
import { jsonSafe } from './json';
import type { Queryable } from './queryable';

export type RunStage = Exclude<ScanStage, 'cells'>;

/** A stored run of a stage other than cells; fold, cell and score only for walk-forward train runs. */
export interface StoredRun {
  run: number;
  fold?: number;
  cell?: number;
  objective?: number;
  eligible?: boolean;
  result: unknown;
}

/** Which runs of [from, to) of a stage are stored already. */
export async function storedRuns(db: Queryable, jobId: string, stage: RunStage, from: number, to: number): Promise<Set<number>> {
  const { rows } = await db.query<{ run: number }>('SELECT run FROM stress_scan_runs WHERE job_id = $1 AND stage = $2 AND run >= $3 AND run < $4', [jobId, stage, from, to]);
  return new Set(rows.map((r) => r.run));
}

/** Inserts a batch's runs in one statement; a run stored before keeps its first row. Returns the rows inserted. */
export async function insertRuns(db: Queryable, jobId: string, stage: RunStage, runs: readonly StoredRun[]): Promise<number> {
  if (runs.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO stress_scan_runs (job_id, stage, run, fold, cell, objective, eligible, result)
     SELECT $1, $2, t.run, t.fold, t.cell, t.objective, t.eligible, t.result::json
     FROM unnest($3::int[], $4::int[], $5::bigint[], $6::float8[], $7::bool[], $8::text[]) AS t(run, fold, cell, objective, eligible, result)
     ON CONFLICT (job_id, stage, run) DO NOTHING`,
    [
      jobId,
      stage,
      runs.map((r) => r.run),
      runs.map((r) => r.fold ?? null),
      runs.map((r) => r.cell ?? null),
      runs.map((r) => r.objective ?? null),
      runs.map((r) => r.eligible ?? null),
      runs.map((r) => jsonSafe(r.result)),
    ],
  );
  return rowCount ?? 0;
}

/** Each fold's best train run, in the ranking order of rankScanCells (eligible, NaN last, objective, earlier cell). */
export async function foldPicks(db: Queryable, jobId: string): Promise<Array<{ fold: number; cell: number; result: unknown }>> {
  const { rows } = await db.query<{ fold: number; cell: string; result: unknown }>(
    `SELECT DISTINCT ON (fold) fold, cell, result FROM stress_scan_runs WHERE job_id = $1 AND stage = 'train'
     ORDER BY fold, eligible DESC, (objective = 'NaN'::float8) ASC, objective DESC, cell ASC`,
    [jobId],
  );
  return rows.map((r) => ({ fold: r.fold, cell: Number(r.cell), result: r.result }));
}

/** Every stored result of a stage, in run order. */
export async function stageResults(db: Queryable, jobId: string, stage: RunStage): Promise<Array<{ run: number; result: unknown }>> {
  const { rows } = await db.query<{ run: number; result: unknown }>('SELECT run, result FROM stress_scan_runs WHERE job_id = $1 AND stage = $2 ORDER BY run', [jobId, stage]);
  return rows;
}

/** Runs stored per stage (the final step checks every batch stored all of its runs). */
export async function countStageRuns(db: Queryable, jobId: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ stage: string; n: string }>('SELECT stage, count(*) AS n FROM stress_scan_runs WHERE job_id = $1 GROUP BY stage', [jobId]);
  return new Map(rows.map((r) => [r.stage, Number(r.n)]));
}
