import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { BarCopyParser } from '../../db/bar-copy';
import { barSpan, loadBarColumns } from '../../db/sql/bars';
import { sliceBars, type BarColumns } from '../../domain/bars';
import { storeBars, syntheticBars, testPool, uniqueSymbol } from '../helpers/db';

/** The bar loader (one binary COPY parsed into columns) against what was stored, on real Postgres. */
let pool: Pool;
const symbol = uniqueSymbol('LOAD');
// minute bars with sub-cent prices, fractional volumes and a gap, so every field and the time arithmetic are exercised
const bars = syntheticBars(120_000, 11, 60_000);
for (let i = 0; i < bars.length; i++) {
  bars.volume[i] += 0.125;
  if (i >= 50_000) bars.ts[i] += 3 * 86_400_000;
}

beforeAll(async () => {
  pool = testPool();
  await storeBars(pool, symbol, '1m', bars);
  await storeBars(pool, symbol, '1d', sliceBars(bars, 0, 10));
});
afterAll(() => pool?.end());

const columns = (b: BarColumns) => Object.fromEntries((['ts', 'open', 'high', 'low', 'close', 'volume'] as const).map((k) => [k, Array.from(b[k].subarray(0, b.length))]));

test('a series loads exactly as stored, every field bit for bit', async () => {
  const loaded = await loadBarColumns(pool, { symbol, timeframe: '1m' });
  expect(loaded.length).toBe(bars.length);
  expect(columns(loaded)).toEqual(columns(bars));
});

test('inclusive bounds, a count given up front, and a count too small (the columns grow)', async () => {
  const from = new Date(bars.ts[1_000]).toISOString();
  const to = new Date(bars.ts[60_000]).toISOString();
  const want = columns(sliceBars(bars, 1_000, 60_001));
  expect(await barSpan(pool, { symbol, timeframe: '1m', from, to })).toEqual({ count: 59_001, first: new Date(bars.ts[1_000]), last: new Date(bars.ts[60_000]) });
  expect(columns(await loadBarColumns(pool, { symbol, timeframe: '1m', from, to }, { expected: 59_001 }))).toEqual(want);
  expect(columns(await loadBarColumns(pool, { symbol, timeframe: '1m', from, to }, { expected: 7 }))).toEqual(want);
  const reports: number[] = [];
  await loadBarColumns(pool, { symbol, timeframe: '1m' }, { onProgress: (n) => reports.push(n) });
  expect(reports.length).toBe(1); // 120,000 bars: one report past 65,536
  expect(reports[0]).toBeGreaterThanOrEqual(65_536);
  expect((await loadBarColumns(pool, { symbol, timeframe: '1d' })).length).toBe(10);
  expect((await loadBarColumns(pool, { symbol: uniqueSymbol('NONE'), timeframe: '1m' })).length).toBe(0);
});

test('a symbol with a quote in it is escaped, not executed', async () => {
  const loaded = await loadBarColumns(pool, { symbol: "X' OR '1'='1", timeframe: '1m' });
  expect(loaded.length).toBe(0);
});

test('the parser takes the stream cut anywhere: in the header, inside a field, between rows', async () => {
  const client = await pool.connect();
  const chunks: Buffer[] = [];
  try {
    const sql = `COPY (SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ${client.escapeLiteral(symbol)} AND timeframe = '1d' ORDER BY ts) TO STDOUT (FORMAT binary)`;
    await pipeline(client.query(copyTo(sql)), new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }));
  } finally {
    client.release();
  }
  const whole = Buffer.concat(chunks);
  const want = columns(sliceBars(bars, 0, 10));
  const cut = (buf: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(buf.length / size) }, (_, k) => buf.subarray(k * size, (k + 1) * size)));
  for (const size of [1, 2, 3, 7, 19, 20, 73, 74, 75, 500]) {
    const parser = new BarCopyParser(2);
    await pipeline(cut(whole, size), parser);
    expect({ size, bars: columns(parser.bars) }).toEqual({ size, bars: want });
  }
  await expect(pipeline(cut(whole.subarray(0, whole.length - 5), 40), new BarCopyParser(2))).rejects.toThrow(/middle of a row/);
});
