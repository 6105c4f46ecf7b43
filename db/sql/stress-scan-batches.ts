import type { Queryable } from './queryable';

export interface BatchAttempt {
  jobId: string;
  stage: string;
  from: number;
  to: number;
  attempt: number;
  worker: string;
  /** runs of the batch found stored and skipped */
  skipped: number;
  /** runs this attempt sets out to compute */
  computing: number;
  /** it loaded the bars (false: they were in its worker's cache) */
  loadedBars: boolean;
}

/** Records an attempt before it computes anything, so an attempt that dies still counts the work it lost. */
export async function startBatchAttempt(db: Queryable, a: BatchAttempt): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO stress_scan_batches (job_id, stage, from_run, to_run, attempt, worker, skipped, computing, loaded_bars)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [a.jobId, a.stage, a.from, a.to, a.attempt, a.worker, a.skipped, a.computing, a.loadedBars],
  );
  return rows[0]!.id;
}

/** Marks an attempt finished with the rows it inserted (in the transaction that inserted them). */
export async function finishBatchAttempt(db: Queryable, id: string, inserted: number): Promise<void> {
  await db.query('UPDATE stress_scan_batches SET inserted = $2, finished_at = clock_timestamp() WHERE id = $1', [id, inserted]);
}

export interface BatchStats {
  attempts: number;
  /** attempts that never finished (their worker died, or they were cancelled) */
  unfinished: number;
  /** runs set out to compute, over every attempt */
  computing: number;
  /** runs inserted by finished attempts */
  inserted: number;
  skipped: number;
  /** attempts that loaded the bars from Postgres (the rest had them cached) */
  barLoads: number;
}

/** What a scan's batch attempts did: computing - the scan's runs is the work done twice. */
export async function batchStats(db: Queryable, jobId: string): Promise<BatchStats> {
  const { rows } = await db.query<Record<Exclude<keyof BatchStats, 'barLoads'> | 'bar_loads', string>>(
    `SELECT count(*) AS attempts, count(*) FILTER (WHERE finished_at IS NULL) AS unfinished, coalesce(sum(computing), 0) AS computing,
       coalesce(sum(inserted), 0) AS inserted, coalesce(sum(skipped), 0) AS skipped, count(*) FILTER (WHERE loaded_bars) AS bar_loads
     FROM stress_scan_batches WHERE job_id = $1`,
    [jobId],
  );
  const r = rows[0]!;
  return { attempts: Number(r.attempts), unfinished: Number(r.unfinished), computing: Number(r.computing), inserted: Number(r.inserted), skipped: Number(r.skipped), barLoads: Number(r.bar_loads) };
}
