import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { insertAudit } from '../db/sql/audit';
import { backupsBeyond, completeBackupRow, failBackupRow, markBackupRotated, startBackupRow, tableRowCounts } from '../db/sql/backups';
import { pgDump, type PgTarget } from '../db/pg-dump';
import { ErrorType } from '../workflows/errors';

export interface BackupSettings extends PgTarget {
  /** where dumps are written; rotation deletes only files recorded in the backups table and inside this directory */
  dir: string;
  /** completed backups kept; older ones are deleted by rotation */
  keep: number;
}

export interface BackupResult {
  backupId: string;
  file: string;
  bytes: number;
  tables: number;
  rows: number;
  /** a previous attempt or run with this id had already completed it */
  reused: boolean;
}

/** A file name from a workflow id: the id is free text a hand-started run chooses, so only [\w.-] survive. */
export function backupFileName(backupId: string): string {
  return `backup-${backupId.replace(/[^\w.-]/g, '_').slice(0, 150)}.dump`;
}

const inside = (dir: string, file: string) => path.dirname(path.resolve(file)) === path.resolve(dir);

/**
 * pg_dump with rotation. `runBackup` is keyed by the backup id (the workflow id): a retry or a second run with the
 * same id finds the completed row and dumps nothing. The row counts are read in the snapshot pg_dump uses
 * (pg_export_snapshot in a repeatable-read transaction), so a restore can be checked against them exactly.
 */
export function createBackupActivities({ db, backup }: { db: Pool; backup: BackupSettings }) {
  return {
    async runBackup(args: { backupId: string }): Promise<BackupResult> {
      if (typeof args?.backupId !== 'string' || args.backupId.length === 0) throw ApplicationFailure.nonRetryable('backupId is required', ErrorType.InvalidInput);
      await mkdir(backup.dir, { recursive: true });
      const file = path.join(path.resolve(backup.dir), backupFileName(args.backupId));
      const row = await startBackupRow(db, args.backupId, file);
      const summary = (bytes: number, counts: Record<string, number>, reused: boolean): BackupResult => ({
        backupId: args.backupId, file, bytes, tables: Object.keys(counts).length, rows: Object.values(counts).reduce((a, b) => a + b, 0), reused,
      });
      if (row.status === 'completed' || row.status === 'rotated') return summary(row.bytes ?? 0, row.rowCounts, true);
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 10_000);
      const client = await db.connect();
      const partial = `${file}.partial`;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
        const counts = await tableRowCounts(client);
        await pgDump(backup, partial, rows[0]!.snapshot, ctx.cancellationSignal);
        await client.query('COMMIT');
        await rename(partial, file);
        const { size } = await stat(file);
        await completeBackupRow(db, args.backupId, size, counts);
        await insertAudit(db, 'maintenance', 'backup.completed', args.backupId, { file, bytes: size });
        return summary(size, counts, false);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        await rm(partial, { force: true });
        await failBackupRow(db, args.backupId, (err as Error).message).catch(() => undefined);
        throw err;
      } finally {
        clearInterval(beat);
        client.release();
      }
    },

    /** Deletes the completed backups beyond the newest `keep` (their files, then the rows say rotated). */
    async rotateBackups(): Promise<{ kept: number; deleted: string[] }> {
      const old = await backupsBeyond(db, backup.keep);
      const deleted: string[] = [];
      for (const b of old) {
        Context.current().heartbeat(b.id);
        // Only a file this platform wrote into the configured directory: a row naming anything else is left alone.
        if (!inside(backup.dir, b.file)) continue;
        await rm(b.file, { force: true });
        await markBackupRotated(db, b.id);
        await insertAudit(db, 'maintenance', 'backup.rotated', b.id, { file: b.file });
        deleted.push(b.id);
      }
      return { kept: backup.keep, deleted };
    },
  };
}
export type BackupActivities = ReturnType<typeof createBackupActivities>;
