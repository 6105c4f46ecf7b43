import type { Pool, PoolClient } from 'pg';
import { importBarColumns, storeBarChunks } from '../../db/bar-import';
import { allocateBars, appendBar, sliceBars, type BarColumns } from '../../domain/bars';
import { syntheticBars, testPool, uniqueSymbol } from '../helpers/db';

let pool: Pool;
beforeAll(() => {
  pool = testPool();
});
afterAll(async () => {
  await pool.end();
});

async function withClient<T>(f: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    return await f(c);
  } finally {
    c.release();
  }
}

async function stored(symbol: string) {
  const { rows } = await pool.query<{ ts: string; open: number; high: number; low: number; close: number; volume: number }>(
    `SELECT (extract(epoch from ts) * 1000)::text AS ts, open, high, low, close, volume FROM bars WHERE symbol = $1 AND timeframe = '1d' ORDER BY bars.ts`,
    [symbol],
  );
  return rows.map((r) => ({ ...r, ts: Number(r.ts) }));
}

const rowsOf = (b: BarColumns) =>
  Array.from({ length: b.length }, (_, i) => ({ ts: b.ts[i], open: b.open[i], high: b.high[i], low: b.low[i], close: b.close[i], volume: b.volume[i] }));

/** `bars` cut into chunks of the given sizes, in turn. */
function* chunked(bars: BarColumns, sizes: number[]): Generator<BarColumns> {
  for (let from = 0, k = 0; from < bars.length; k++) {
    const to = Math.min(bars.length, from + sizes[k % sizes.length]!);
    yield sliceBars(bars, from, to);
    from = to;
  }
}

test('binary COPY stores every value exactly: times before 2000 and after 2285, awkward doubles, zero volume', async () => {
  const symbol = uniqueSymbol('BIN');
  const b = allocateBars(6);
  const times = [Date.UTC(1900, 0, 1), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2000, 0, 1), Date.UTC(2024, 1, 29, 12, 34, 56, 789), Date.UTC(2300, 5, 1), Date.UTC(9999, 0, 1)];
  const prices = [0.1 + 0.2, 1e-300, 123456789.12345679, Number.MAX_VALUE / 4, 5e-324, 3600.25];
  times.forEach((ts, i) => appendBar(b, { ts, open: prices[i]!, high: prices[i]! * 2, low: prices[i]! / 2, close: prices[i]!, volume: i === 3 ? 0 : 1e12 + i }));
  expect(await withClient((c) => importBarColumns(c, symbol, '1d', b))).toEqual({ accepted: 6, inserted: 6, duplicates: 0 });
  expect(await stored(symbol)).toEqual(rowsOf(b));
});

test('chunks around a stored span: rows before and after it go straight in, rows inside it only where new; twice is idempotent', async () => {
  const symbol = uniqueSymbol('SPAN');
  const all = syntheticBars(300, 7);
  // stored: every other bar of [100, 200)
  const middle = allocateBars(50);
  for (let i = 100; i < 200; i += 2) appendBar(middle, { ts: all.ts[i], open: 1, high: 1, low: 1, close: 1, volume: 1 });
  await withClient((c) => importBarColumns(c, symbol, '1d', middle));

  for (const sizes of [[300], [7, 93, 1], [100, 100, 100], [1]]) {
    const counts = await withClient((c) => storeBarChunks(c, symbol, '1d', chunked(all, sizes)));
    const first = sizes[0] === 300;
    expect(counts).toEqual(first ? { accepted: 300, inserted: 250, duplicates: 50 } : { accepted: 300, inserted: 0, duplicates: 300 });
  }
  const rows = await stored(symbol);
  expect(rows.length).toBe(300);
  // stored bars are never overwritten
  const expected = rowsOf(all).map((r, i) => (i >= 100 && i < 200 && i % 2 === 0 ? { ...r, open: 1, high: 1, low: 1, close: 1, volume: 1 } : r));
  expect(rows).toEqual(expected);
});

test('an async source of chunks, some empty; nothing at all stores nothing', async () => {
  const symbol = uniqueSymbol('ASYNC');
  const all = syntheticBars(50, 3);
  async function* source() {
    yield sliceBars(all, 0, 0);
    yield sliceBars(all, 0, 20);
    await new Promise((r) => setTimeout(r, 5));
    yield sliceBars(all, 20, 20);
    yield sliceBars(all, 20, 50);
  }
  expect(await withClient((c) => storeBarChunks(c, symbol, '1d', source()))).toEqual({ accepted: 50, inserted: 50, duplicates: 0 });
  expect(await withClient((c) => storeBarChunks(c, symbol, '1d', []))).toEqual({ accepted: 0, inserted: 0, duplicates: 0 });
  expect((await stored(symbol)).length).toBe(50);
});

test('a failure mid-way rolls back every chunk already sent, and the connection takes queries again', async () => {
  const symbol = uniqueSymbol('FAIL');
  const all = syntheticBars(40_000, 5, 60_000);
  function* failing() {
    yield sliceBars(all, 0, 20_000);
    yield sliceBars(all, 20_000, 30_000);
    throw new Error('the source broke');
  }
  await withClient(async (c) => {
    await expect(storeBarChunks(c, symbol, '1d', failing())).rejects.toThrow('the source broke');
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
  // out of order across chunks: refused, nothing kept
  await withClient(async (c) => {
    await expect(storeBarChunks(c, symbol, '1d', [sliceBars(all, 100, 200), sliceBars(all, 150, 160)])).rejects.toThrow(/ascending by time without repeats/);
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
  expect((await stored(symbol)).length).toBe(0);
});
