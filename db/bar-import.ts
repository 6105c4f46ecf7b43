import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BarColumns } from '../domain/bars';

export interface BarImportCounts {
  /** rows handed to Postgres */
  accepted: number;
  /** rows that were new */
  inserted: number;
  /** rows already present for (symbol, timeframe, ts) and left unchanged */
  duplicates: number;
}

const STAGING_DDL = `CREATE TEMP TABLE bars_staging (ts_ms float8, open float8, high float8, low float8, close float8, volume float8) ON COMMIT DROP`;

/** COPY text lines for the staging table, produced in batches so a large import never builds one huge string. */
function* copyLines(bars: BarColumns, batch = 20_000): Generator<string> {
  for (let start = 0; start < bars.length; start += batch) {
    const end = Math.min(start + batch, bars.length);
    let chunk = '';
    for (let i = start; i < end; i++) {
      chunk += `${bars.ts[i]}\t${bars.open[i]}\t${bars.high[i]}\t${bars.low[i]}\t${bars.close[i]}\t${bars.volume[i]}\n`;
    }
    yield chunk;
  }
}

/**
 * Stores bars idempotently at COPY speed: COPY into an unindexed temp table, then one
 * INSERT ... ON CONFLICT DO NOTHING into `bars`. Running the same import twice inserts nothing the second time.
 * The caller owns `client` (a dedicated connection, not in a transaction).
 */
export async function importBarColumns(client: PoolClient, symbol: string, timeframe: string, bars: BarColumns): Promise<BarImportCounts> {
  if (bars.length === 0) return { accepted: 0, inserted: 0, duplicates: 0 };
  await client.query('BEGIN');
  try {
    // A lost commit on a crash is safe here: the import is idempotent and the caller sees no success.
    await client.query('SET LOCAL synchronous_commit = off');
    await client.query(STAGING_DDL);
    await pipeline(Readable.from(copyLines(bars)), client.query(copyFrom('COPY bars_staging FROM STDIN')));
    const { rowCount } = await client.query(
      `INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
       SELECT $1, $2, to_timestamp(ts_ms / 1000.0), open, high, low, close, volume FROM bars_staging
       ON CONFLICT (symbol, timeframe, ts) DO NOTHING`,
      [symbol, timeframe],
    );
    await client.query('COMMIT');
    const inserted = rowCount ?? 0;
    return { accepted: bars.length, inserted, duplicates: bars.length - inserted };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
