import type { Queryable } from './queryable';

/** Gauges the API's /metrics reads at each scrape: small aggregate queries over indexed status columns. */

export async function pendingApprovals(db: Queryable): Promise<{ count: number; oldestAgeSeconds: number }> {
  const { rows } = await db.query<{ n: string; age: number | null }>(
    `SELECT count(*) AS n, extract(epoch FROM now() - min(created_at))::float8 AS age FROM approvals WHERE status = 'pending'`,
  );
  return { count: Number(rows[0]!.n), oldestAgeSeconds: rows[0]!.age ?? 0 };
}

/** The outbox's backlog: rows not sent yet (pending, sending) and given up on (dead). */
export async function outboxBacklog(db: Queryable): Promise<Array<{ status: string; count: number }>> {
  const { rows } = await db.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM notifications WHERE status <> 'sent' GROUP BY status`);
  return rows.map((r) => ({ status: r.status, count: Number(r.n) }));
}

export async function deploymentsByStatus(db: Queryable): Promise<Array<{ status: string; count: number }>> {
  const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM deployments GROUP BY status');
  return rows.map((r) => ({ status: r.status, count: Number(r.n) }));
}
