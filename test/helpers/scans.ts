import type { Pool } from 'pg';
import { toJson } from '../../clients/cli/local-backtest';
import { scanDocument } from '../../services/stress-scan-document';
import { getScanJob } from '../../db/sql/stress-scan-jobs';
import type { BarColumns } from '../../domain/bars';
import type { PreparedScan } from '../../domain/scan/prepare';
import { runScan } from '../../domain/scan/scan';

export { queuedScan } from '../../harness/fixtures/scans';

/** What `scan --local --json` prints for these bars (as a file holding exactly them), as text. */
export function localDocument(bars: BarColumns, scan: PreparedScan, symbol: string, timeframe: string): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const data = { file: null, rows: bars.length, rejected: 0, firstTs: iso(bars.ts[0]), lastTs: iso(bars.ts[bars.length - 1]) };
  return toJson({ symbol, timeframe, from: null, to: null, data, ...runScan(bars, scan) });
}

/** The stored document of a finished scan job, every cell included, as text. */
export async function storedDocument(pool: Pool, jobId: string): Promise<string> {
  const job = await getScanJob(pool, jobId);
  if (!job?.result) throw new Error(`stress scan ${jobId} has no result (status ${job?.status})`);
  return JSON.stringify(await scanDocument(pool, job, 10_000_000));
}
