import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { importBarColumns } from '../db/bar-import';
import type { BarColumns } from '../domain/bars';
import { parseOhlcvCsv } from '../domain/csv';
import { benchStack, median } from './stack';

const ROWS = 1_000_000;
const REPS = 3;

/** Minute bars as the CSV text users upload (separate Date and Time columns). */
function csvText(rows: number, seed: number): string {
  let price = 3600 + seed;
  const parts: string[] = ['Date,Time,Open,High,Low,Close,Volume,OpenInterest\n'];
  const t0 = Date.UTC(2001, 0, 1);
  for (let i = 0; i < rows; i++) {
    const d = new Date(t0 + i * 60_000).toISOString();
    const open = price;
    const close = +(open + ((i * 7919 + seed) % 11) - 5).toFixed(2);
    const high = Math.max(open, close) + 1;
    const low = Math.min(open, close) - 1;
    parts.push(`${d.slice(0, 10)},${d.slice(11, 19)},${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${(i % 5000) + 1},0\n`);
    price = close > 100 ? close : 3600;
  }
  return parts.join('');
}

/** The physical ceiling in the same run: a plain, non-idempotent COPY of the same rows straight into bars. */
async function plainCopy(pool: Pool, symbol: string, bars: BarColumns): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL synchronous_commit = off');
    const lines = function* () {
      for (let s = 0; s < bars.length; s += 20_000) {
        let chunk = '';
        for (let i = s; i < Math.min(s + 20_000, bars.length); i++) {
          chunk += `${symbol}\t1m\t${new Date(bars.ts[i]).toISOString()}\t${bars.open[i]}\t${bars.high[i]}\t${bars.low[i]}\t${bars.close[i]}\t${bars.volume[i]}\n`;
        }
        yield chunk;
      }
    };
    await pipeline(Readable.from(lines()), client.query(copyFrom('COPY bars (symbol, timeframe, ts, open, high, low, close, volume) FROM STDIN')));
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** CSV text -> parse -> COPY -> ON CONFLICT insert, 1M rows; then the same file again (all duplicates). */
export async function benchImport(): Promise<Record<string, unknown>> {
  const stack = await benchStack({ temporal: false, redis: false });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 2 });
  try {
    const newRates: number[] = [];
    const dupRates: number[] = [];
    const copyRates: number[] = [];
    let duplicatesSeen = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const text = csvText(ROWS, rep);
      const symbol = `BENCH${rep}`;
      const importOnce = async () => {
        const t0 = performance.now();
        const parsed = parseOhlcvCsv(text, {});
        const client = await pool.connect();
        try {
          const counts = await importBarColumns(client, symbol, '1m', parsed.bars);
          return { ms: performance.now() - t0, counts, parsed };
        } finally {
          client.release();
        }
      };
      const first = await importOnce();
      if (first.counts.inserted !== ROWS || first.parsed.rejected !== 0) throw new Error(`expected ${ROWS} new rows, got ${JSON.stringify(first.counts)}`);
      newRates.push(ROWS / (first.ms / 1000));
      const again = await importOnce();
      if (again.counts.duplicates !== ROWS || again.counts.inserted !== 0) throw new Error(`re-import was not idempotent: ${JSON.stringify(again.counts)}`);
      duplicatesSeen += again.counts.duplicates;
      dupRates.push(ROWS / (again.ms / 1000));

      const t0 = performance.now();
      await plainCopy(pool, `COPY${rep}`, first.parsed.bars);
      copyRates.push(ROWS / ((performance.now() - t0) / 1000));
    }
    const rowsPerSec = median(newRates);
    const baselineCopyRowsPerSec = median(copyRates);
    return {
      rows: ROWS,
      repetitions: REPS,
      rowsPerSec: Math.round(rowsPerSec),
      duplicateRowsPerSec: Math.round(median(dupRates)),
      duplicatesIgnored: duplicatesSeen,
      baselineCopyRowsPerSec: Math.round(baselineCopyRowsPerSec),
      ratioToPlainCopy: +(rowsPerSec / baselineCopyRowsPerSec).toFixed(3),
      goal: { rowsPerSec: 100_000 },
      passed: rowsPerSec >= 100_000,
      note: 'rowsPerSec covers CSV parsing, COPY into a temp table and INSERT ... ON CONFLICT DO NOTHING; the baseline is a plain COPY of the same rows straight into bars (not idempotent)',
    };
  } finally {
    await pool.end();
    await stack.stop();
  }
}
