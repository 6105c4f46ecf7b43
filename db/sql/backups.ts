import type { Queryable } from './queryable';

export type BackupStatus = 'running' | 'completed' | 'failed' | 'rotated';

export interface Backup {
  id: string;
  file: string;
  bytes: number | null;
  status: BackupStatus;
  rowCounts: Record<string, number>;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  rotatedAt: Date | null;
}

/** backups as pg returns it. */
interface BackupRow {
  id: string;
  file: string;
  bytes: string | null;
  status: BackupStatus;
  row_counts: Record<string, number>;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
  rotated_at: Date | null;
}

/** The one place a backups row's columns become a backup's fields. */
function backupRowToBackup(r: BackupRow): Backup {
  return {
    id: r.id, file: r.file, bytes: r.bytes === null ? null : Number(r.bytes), status: r.status, rowCounts: r.row_counts, error: r.error,
    startedAt: r.started_at, finishedAt: r.finished_at, rotatedAt: r.rotated_at,
  };
}

/** Records a backup as running, or returns the row a previous attempt of the same run wrote. */
export async function startBackupRow(db: Queryable, id: string, file: string): Promise<Backup> {
  const { rows } = await db.query<BackupRow & Record<string, unknown>>(
    `INSERT INTO backups (id, file) VALUES ($1, $2)
     ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id RETURNING *`,
    [id, file],
  );
  return backupRowToBackup(rows[0]!);
}

/** running (or failed, on a retry that succeeded) -> completed, with its size and the row counts in its snapshot. */
export async function completeBackupRow(db: Queryable, id: string, bytes: number, rowCounts: Record<string, number>): Promise<void> {
  await db.query(
    `UPDATE backups SET status = 'completed', bytes = $2, row_counts = $3, error = NULL, finished_at = now() WHERE id = $1 AND status IN ('running', 'failed')`,
    [id, bytes, JSON.stringify(rowCounts)],
  );
}

export async function failBackupRow(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(`UPDATE backups SET status = 'failed', error = $2, finished_at = now() WHERE id = $1 AND status = 'running'`, [id, error.slice(0, 1000)]);
}

/** Completed backups beyond the newest `keep`: the ones rotation deletes. */
export async function backupsBeyond(db: Queryable, keep: number): Promise<Backup[]> {
  const { rows } = await db.query<BackupRow & Record<string, unknown>>(
    `SELECT * FROM backups WHERE status = 'completed' ORDER BY started_at DESC, id DESC OFFSET $1`,
    [keep],
  );
  return rows.map(backupRowToBackup);
}

export async function markBackupRotated(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE backups SET status = 'rotated', rotated_at = now() WHERE id = $1 AND status = 'completed'`, [id]);
}

/** Backups, newest first. */
export async function listBackups(db: Queryable, limit: number): Promise<Backup[]> {
  const { rows } = await db.query<BackupRow & Record<string, unknown>>('SELECT * FROM backups ORDER BY started_at DESC, id DESC LIMIT $1', [limit]);
  return rows.map(backupRowToBackup);
}

/** Exact row counts of every table in the public schema (one statement: each count through query_to_xml). */
export async function tableRowCounts(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ name: string; n: string }>(
    `SELECT table_name AS name,
            (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', table_name), false, true, '')))[1]::text AS n
     FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}
