import { createReadStream, readFileSync } from 'node:fs';
import type { ImportResult } from '../../clients/cli/types';
import path from 'node:path';
import { Readable } from 'node:stream';
import { uniqueSymbol } from '../helpers/db';
import { SHARED_DATA } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';

type ImportAnswer = ImportResult;

const MINUTE_FILE = path.join(SHARED_DATA, '2006-01-02-volume-min-001.txt');
const ORCL_FILE = path.join(SHARED_DATA, 'orcl-1995-2014.txt');
/** data rows = lines minus the header */
const rowsOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').length - 1;

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h?.close();
});

async function importCsv(symbol: string, timeframe: string, payload: string | Readable, tz?: string) {
  const res = await h.app.inject({
    method: 'POST',
    url: `/v1/bars/import?symbol=${symbol}&timeframe=${timeframe}${tz ? `&tz=${encodeURIComponent(tz)}` : ''}`,
    headers: { ...AUTH.trader, 'content-type': 'text/csv' },
    payload,
  });
  if (res.statusCode !== 200) throw new Error(`import answered ${res.statusCode}: ${res.body}`);
  return res.json<ImportAnswer>();
}

async function storedBars(symbol: string, timeframe: string) {
  const { rows } = await h.db.query<{ n: string; first: Date; last: Date }>(
    'SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM bars WHERE symbol = $1 AND timeframe = $2',
    [symbol, timeframe],
  );
  return { n: Number(rows[0].n), first: rows[0].first, last: rows[0].last };
}

test('the minute file (Date and Time columns under a header without Time) imports every row, then only duplicates', async () => {
  const rows = rowsOf(MINUTE_FILE);
  expect(rows).toBe(30_889);
  const symbol = uniqueSymbol('MIN');

  const first = await importCsv(symbol, '1m', createReadStream(MINUTE_FILE));
  expect(first).toMatchObject({ symbol, timeframe: '1m', accepted: rows, inserted: rows, duplicates: 0, rejected: 0, outliers: 0, future: 0, complete: true, rejections: [] });
  expect(first.firstTs).toBe('2006-01-02T09:01:00.000Z');
  expect(first.lastTs?.startsWith('2006-02-27T')).toBe(true);
  expect(await storedBars(symbol, '1m')).toMatchObject({ n: rows });

  const again = await importCsv(symbol, '1m', createReadStream(MINUTE_FILE));
  expect(again).toMatchObject({ accepted: rows, inserted: 0, duplicates: rows, rejected: 0 });
  expect(again.importId).not.toBe(first.importId);
  expect(await storedBars(symbol, '1m')).toMatchObject({ n: rows });

  const audit = await h.db.query('SELECT accepted, inserted, duplicates, rejected, imported_by FROM bar_imports WHERE symbol = $1 ORDER BY created_at', [symbol]);
  expect(audit.rows).toEqual([
    { accepted: rows, inserted: rows, duplicates: 0, rejected: 0, imported_by: 'tom' },
    { accepted: rows, inserted: 0, duplicates: rows, rejected: 0, imported_by: 'tom' },
  ]);
});

test('orcl daily quotes in America/New_York: dates become local midnights in UTC; lower-case symbols are upper-cased', async () => {
  const rows = rowsOf(ORCL_FILE);
  expect(rows).toBe(5_036);
  const symbol = uniqueSymbol('ORCL');
  const r = await importCsv(symbol.toLowerCase(), '1d', readFileSync(ORCL_FILE, 'utf8'), 'America/New_York');
  expect(r).toMatchObject({ symbol, accepted: rows, inserted: rows, duplicates: 0, rejected: 0 });
  expect(r.firstTs).toBe('1995-01-03T05:00:00.000Z'); // EST midnight
  expect(r.lastTs).toBe('2014-12-31T05:00:00.000Z');
  const stored = await storedBars(symbol, '1d');
  expect(stored.n).toBe(rows);
  expect(stored.first.toISOString()).toBe(r.firstTs);

  const again = await importCsv(symbol, '1d', readFileSync(ORCL_FILE, 'utf8'), 'America/New_York');
  expect(again).toMatchObject({ accepted: rows, inserted: 0, duplicates: rows });

  const list = await h.app.inject({ method: 'GET', url: '/v1/bars', headers: AUTH.viewer });
  expect(list.statusCode).toBe(200);
  expect(list.json<{ series: unknown[] }>().series).toContainEqual({ symbol, timeframe: '1d', bars: rows, first: r.firstTs, last: r.lastTs });
});

test('a body split into odd-sized chunks (lines cut anywhere, multi-byte characters split) parses the same', async () => {
  const text = readFileSync(ORCL_FILE, 'utf8').split('\n').slice(0, 301).join('\n');
  const bytes = Buffer.from(`\ufeff${text}`);
  const chunks: Buffer[] = [];
  for (let i = 0, size = 1; i < bytes.length; i += size, size = (size * 7) % 97 + 1) chunks.push(bytes.subarray(i, i + size));
  const symbol = uniqueSymbol('CHK');
  const r = await importCsv(symbol, '1d', Readable.from(chunks));
  expect(r).toMatchObject({ accepted: 300, inserted: 300, rejected: 0 });
});

test('a file with a few bad rows counts them, reports their lines, and imports the rest', async () => {
  const good = readFileSync(ORCL_FILE, 'utf8').split('\n').slice(0, 101); // header + 100 rows
  const lines = [...good];
  // line numbers are 1-based and count the header: lines[k] is line k + 1
  lines.splice(11, 0, '1995-02-30,1,2,0.5,1.5,1.5,100'); // line 12: no such date
  lines.splice(21, 0, '1995-03-01,abc,2,1,1.5,1.5,100'); // line 22: not a number
  lines.splice(31, 0, '1995-03-02,2,1,0.5,1.5,1.5,100'); // line 32: high < open
  lines.splice(41, 0, 'garbage'); // line 42: wrong column count
  lines.splice(51, 0, lines[50]); // line 52: repeats line 51
  const symbol = uniqueSymbol('BAD');
  const r = await importCsv(symbol, '1d', lines.join('\n'));
  expect(r).toMatchObject({ accepted: 100, inserted: 100, duplicates: 0, duplicatesInFile: 1, rejected: 5, complete: false });
  expect(r.rejections.map((x) => x.line)).toEqual([12, 22, 32, 42, 52]);
  expect(r.rejections[1].reason).toMatch(/open/);
  expect(await storedBars(symbol, '1d')).toMatchObject({ n: 100 });
});

test('rejection samples are capped at 20', async () => {
  const header = 'Date,Open,High,Low,Close,Volume';
  const bad = Array.from({ length: 50 }, (_, i) => `2020-01-${String((i % 28) + 1).padStart(2, '0')},x,1,1,1,1`);
  const symbol = uniqueSymbol('CAP');
  const r = await importCsv(symbol, '1d', [header, '2019-12-31,1,2,0.5,1.5,10', ...bad].join('\n'));
  expect(r.accepted).toBe(1);
  expect(r.rejected).toBe(50);
  expect(r.rejections).toHaveLength(20);
});

test('a bar dated in the future and a price outlier are rejected with reasons; the answer says the import is partial', async () => {
  const good = readFileSync(ORCL_FILE, 'utf8').split('\n').slice(0, 41); // header + 40 rows (1995)
  const lines = [...good];
  const tomorrowPlus = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  lines.splice(21, 0, '1995-02-04,2.1,1000000000000000,2.0,1000000000000000,0,100'); // line 22 (a Saturday): close 1e15 beside ~2
  lines.push(`${tomorrowPlus},2.1,2.2,2.0,2.1,2.1,100`); // line 43: three days ahead
  const symbol = uniqueSymbol('OUT');
  const r = await importCsv(symbol, '1d', lines.join('\n'));
  expect(r).toMatchObject({ accepted: 40, inserted: 40, rejected: 2, outliers: 1, future: 1, complete: false });
  expect(r.rejections).toEqual([
    { line: 22, reason: expect.stringMatching(/^price outlier: close 1e\+15 is .*x above the median close of its neighbours/) },
    { line: 43, reason: expect.stringMatching(new RegExp(`^dated in the future: ${tomorrowPlus}T00:00:00\\.000Z is after `)) },
  ]);
  const stored = await storedBars(symbol, '1d');
  expect(stored.n).toBe(40);
  const { rows } = await h.db.query<{ max: number }>('SELECT max(close)::float8 AS max FROM bars WHERE symbol = $1', [symbol]);
  expect(rows[0].max).toBeLessThan(10);
  const audit = await h.db.query('SELECT rejected FROM bar_imports WHERE symbol = $1', [symbol]);
  expect(audit.rows).toEqual([{ rejected: 2 }]);
});

test('a whole file imported says complete; a bar of the bar now forming (now + one bar) is still accepted', async () => {
  const now = Date.now();
  const minute = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
  const rows = Array.from({ length: 10 }, (_, k) => `${minute(now - (9 - k) * 60_000)},10,10.1,9.9,10,5`);
  const symbol = uniqueSymbol('NOW');
  const r = await importCsv(symbol, '1m', ['ts,open,high,low,close,volume', ...rows, `${minute(now + 60_000)},10,10.1,9.9,10,5`].join('\n'));
  expect(r).toMatchObject({ accepted: 11, rejected: 0, future: 0, outliers: 0, complete: true, rejections: [] });
  const later = await importCsv(symbol, '1m', ['ts,open,high,low,close,volume', `${minute(now + 5 * 60_000)},10,10.1,9.9,10,5`].join('\n')).catch((e: Error) => e);
  expect(String(later)).toMatch(/import answered 400: .*dated in the future/);
});
