import type { Queryable } from './queryable';

export type DeadLetterKind = 'workflow' | 'notification' | 'bar-import';
export type DeadLetterAction = 'retried' | 'resolved';

export async function insertDeadLetterAction(db: Queryable, kind: DeadLetterKind, ref: string, action: DeadLetterAction, reason: string, by: string): Promise<void> {
  await db.query('INSERT INTO dead_letter_actions (kind, ref, action, reason, acted_by) VALUES ($1, $2, $3, $4, $5)', [kind, ref, action, reason, by]);
}

/** Of `refs`, the ones that have any of `actions` recorded. */
export async function refsWithAction(db: Queryable, kind: DeadLetterKind, refs: string[], actions: DeadLetterAction[]): Promise<Set<string>> {
  const { rows } = await db.query<{ ref: string }>('SELECT DISTINCT ref FROM dead_letter_actions WHERE kind = $1 AND ref = ANY($2) AND action = ANY($3)', [kind, refs, actions]);
  return new Set(rows.map((r) => r.ref));
}

export interface RejectedImport {
  id: string;
  symbol: string;
  timeframe: string;
  accepted: number;
  rejected: number;
  importedBy: string;
  createdAt: Date;
}

/** Imports that skipped invalid bars and nobody resolved, newest first. */
export async function unresolvedRejectedImports(db: Queryable, limit: number): Promise<RejectedImport[]> {
  const { rows } = await db.query<{ id: string; symbol: string; timeframe: string; accepted: number; rejected: number; imported_by: string; created_at: Date }>(
    `SELECT id, symbol, timeframe, accepted, rejected, imported_by, created_at FROM bar_imports i
     WHERE rejected > 0 AND NOT EXISTS (SELECT 1 FROM dead_letter_actions a WHERE a.kind = 'bar-import' AND a.ref = i.id::text AND a.action = 'resolved')
     ORDER BY created_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, symbol: r.symbol, timeframe: r.timeframe, accepted: r.accepted, rejected: r.rejected, importedBy: r.imported_by, createdAt: r.created_at }));
}

/** Whether an import with rejected bars exists under this id (only those can be resolved). */
export async function rejectedImportExists(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM bar_imports WHERE id::text = $1 AND rejected > 0', [id]);
  return rows.length > 0;
}

export interface DeadNotification {
  id: string;
  kind: string;
  severity: string;
  subject: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
}

/** Dead notifications nobody resolved, newest first. */
export async function unresolvedDeadNotifications(db: Queryable, limit: number): Promise<DeadNotification[]> {
  const { rows } = await db.query<{ id: string; kind: string; severity: string; subject: string; attempts: number; last_error: string | null; created_at: Date }>(
    `SELECT id, kind, severity, subject, attempts, last_error, created_at FROM notifications n
     WHERE status = 'dead' AND NOT EXISTS (
       SELECT 1 FROM dead_letter_actions a WHERE a.kind = 'notification' AND a.ref = n.id::text AND a.action = 'resolved')
     ORDER BY created_at DESC, id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, kind: r.kind, severity: r.severity, subject: r.subject, attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at }));
}
