import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';
import { CsvFormatError, importCsv, type CsvImportOptions } from '../../db/csv-import';
import { screenBars } from '../../domain/bar-screen';
import { parseOhlcvCsv } from '../../domain/csv';
import { testPool, uniqueSymbol } from '../helpers/db';
import { SHARED_DATA } from '../helpers/stack';

/** 30,889 minute bars, 2006-01-02 to 2006-02-27, in time order */
const lines = readFileSync(path.join(SHARED_DATA, '2006-01-02-volume-min-001.txt'), 'utf8').trimEnd().split('\n');
const header = lines[0]!;
const rows = lines.slice(1);

let pool: Pool;
beforeAll(() => {
  pool = testPool();
});
afterAll(async () => {
  await pool.end();
});

/** A bar of the file with its close (and so its high) multiplied: a price outlier. */
const spiked = (row: string) => {
  const f = row.split(',');
  f[5] = String(Number(f[5]) * 1000);
  f[3] = f[5]!;
  return f.join(',');
};

/** The file with trouble spread through it: bad rows, repeats, outliers at chunk-sized distances, the last bars in the future. */
function troubled(): string[] {
  const r = [...rows];
  for (const i of [3, 1200, 1201, 9000, 17000, 29000]) r[i] = spiked(r[i]!);
  r[500] = r[500]!.replace(/,[^,]*$/, ',abc'); // bad volume
  r.splice(7000, 0, r[6999]!); // a repeated time
  return r;
}
/** notAfter inside the file: its last 100 bars are "in the future" */
const notAfter = Date.parse(`${rows[rows.length - 101]!.slice(0, 10)}T${rows[rows.length - 101]!.slice(11, 19)}Z`);

const opts = (symbol: string, text: string): CsvImportOptions => ({ symbol, timeframe: '1m', timeZone: 'UTC', notAfter, maxRejectionSamples: 20, expectedBytes: text.length });
const chunks = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, k) => Buffer.from(text.slice(k * size, (k + 1) * size)));

async function stored(symbol: string) {
  const { rows: r } = await pool.query<{ ts: string; close: number }>(
    `SELECT (extract(epoch from ts) * 1000)::text AS ts, close FROM bars WHERE symbol = $1 AND timeframe = '1m' ORDER BY bars.ts`,
    [symbol],
  );
  return r.map((x) => [Number(x.ts), x.close]);
}

test('a sorted file, streamed into the store as it is parsed, gives the result of parsing, screening and storing it whole', async () => {
  const text = [header, ...troubled()].join('\n');
  const parsed = parseOhlcvCsv(text, { timeZone: 'UTC' });
  const screened = screenBars(parsed.bars, parsed.lines, { notAfter, maxRejectionSamples: 20 });
  expect(screened.future).toBeGreaterThan(50);
  expect(screened.outliers).toBe(6);
  const n = screened.bars.length;
  const expected = {
    accepted: n,
    inserted: n,
    duplicates: 0,
    duplicatesInFile: 1,
    rejected: parsed.rejected + screened.future + screened.outliers,
    future: screened.future,
    outliers: 6,
    rejections: [...parsed.rejections, ...screened.rejections].sort((a, b) => a.line - b.line),
    firstTs: screened.bars.ts[0],
    lastTs: screened.bars.ts[n - 1],
  };
  for (const size of [65_536, 977]) {
    const symbol = uniqueSymbol('STREAM');
    expect(await importCsv(pool, chunks(text, size), opts(symbol, text))).toEqual(expected);
    expect(await stored(symbol)).toEqual(Array.from({ length: n }, (_, i) => [screened.bars.ts[i], screened.bars.close[i]]));
    // again: all duplicates
    expect(await importCsv(pool, chunks(text, size), opts(symbol, text))).toEqual({ ...expected, inserted: 0, duplicates: n });
  }
});

test('a file found out of order after rows were stored is stored again whole and sorted, with the same result', async () => {
  const sorted = troubled();
  const late = [...sorted];
  // one row moved near the end: the disorder shows only after most of the file went to Postgres
  const [moved] = late.splice(2000, 1);
  late.splice(28_000, 0, moved!);
  const a = uniqueSymbol('SORTED');
  const b = uniqueSymbol('LATE');
  const textA = [header, ...sorted].join('\n');
  const textB = [header, ...late].join('\n');
  const ra = await importCsv(pool, chunks(textA, 65_536), opts(a, textA));
  const rb = await importCsv(pool, chunks(textB, 65_536), opts(b, textB));
  // the same bars and counts; line numbers differ only where rows moved
  const { rejections: _ra, ...countsA } = ra;
  const { rejections: _rb, ...countsB } = rb;
  expect(countsB).toEqual(countsA);
  expect(await stored(b)).toEqual(await stored(a));
});

test('a malformed line after thousands of rows were stored: a CsvFormatError, nothing kept, no connection held', async () => {
  const symbol = uniqueSymbol('BROKEN');
  const text = [header, ...rows.slice(0, 20_000), `2006-02-01,10:00,${'9'.repeat(2 << 20)}`, ...rows.slice(20_000)].join('\n');
  await expect(importCsv(pool, chunks(text, 65_536), opts(symbol, text))).rejects.toThrow(CsvFormatError);
  expect(await stored(symbol)).toEqual([]);
  expect(pool.idleCount).toBe(pool.totalCount);
});
