import type { Queryable } from './queryable';

/** Stores the quality report of a day; a rerun replaces it. */
export async function upsertQualityReport(db: Queryable, day: string, report: Record<string, unknown>): Promise<void> {
  await db.query('INSERT INTO market_data_reports (day, report) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE SET report = EXCLUDED.report, created_at = now()', [day, JSON.stringify(report)]);
}

export async function getQualityReport(db: Queryable, day: string): Promise<{ report: Record<string, unknown>; createdAt: Date } | undefined> {
  const { rows } = await db.query<{ report: Record<string, unknown>; created_at: Date }>('SELECT report, created_at FROM market_data_reports WHERE day = $1', [day]);
  return rows[0] && { report: rows[0].report, createdAt: rows[0].created_at };
}
