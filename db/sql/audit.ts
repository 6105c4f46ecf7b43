import type { Queryable } from './queryable';

/** Appends an audit record. */
export async function insertAudit(db: Queryable, actor: string, action: string, subject: string, detail: Record<string, unknown>): Promise<void> {
  await db.query('INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)', [actor, action, subject, JSON.stringify(detail)]);
}

/**
 * Appends an audit record unless one with this action, subject and detail.key exists (activity retries write it
 * once). The unique index audit_log_once arbitrates concurrent writers.
 */
export async function insertAuditOnce(db: Queryable, actor: string, action: string, subject: string, key: string, detail: Record<string, unknown>): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)
     ON CONFLICT (action, subject, (detail->>'key')) WHERE detail ? 'key' DO NOTHING`,
    [actor, action, subject, JSON.stringify({ ...detail, key })],
  );
  return rowCount === 1;
}
