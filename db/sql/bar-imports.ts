import type { Queryable } from './queryable';

export interface BarImportRecord {
  id: string;
  symbol: string;
  timeframe: string;
  accepted: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  firstTs?: string;
  lastTs?: string;
  importedBy: string;
}

/** One audit row per import request. */
export async function insertBarImport(db: Queryable, r: BarImportRecord): Promise<void> {
  await db.query(
    `INSERT INTO bar_imports (id, symbol, timeframe, accepted, inserted, duplicates, rejected, first_ts, last_ts, imported_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
    [r.id, r.symbol, r.timeframe, r.accepted, r.inserted, r.duplicates, r.rejected, r.firstTs ?? null, r.lastTs ?? null, r.importedBy],
  );
}
