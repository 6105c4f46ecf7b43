import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createMarketDataBackfillActivities, storeBackfillRows, type BackfillCounts, type ChunkResult } from '../../activities/market-data-backfill';
import { insertBackfill } from '../../db/sql/market-data-backfills';
import type { Bar } from '../../domain/bars';
import { calendarBars } from '../../domain/marketdata/calendar-bars';
import { BarCache } from '../../marketdata/cache';
import type { MarketDataProvider } from '../../marketdata/provider';
import { backfillWorkflowId } from '../../workflows/market-data/messages';
import type { Redis } from 'ioredis';

const MIN = 60_000;

/** Before each timed run: no autovacuum of the last run's rows and no checkpoint inside it (CHECKPOINT when allowed). */
async function settle(pool: Pool): Promise<void> {
  await pool.query('VACUUM (ANALYZE) bars');
  await pool.query('VACUUM (ANALYZE) bench_scratch_bars').catch(() => undefined);
  await pool.query('CHECKPOINT').catch(() => undefined);
}

async function timed(pool: Pool, f: () => Promise<unknown>): Promise<number> {
  await settle(pool);
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Rows of one symbol as one binary-free text COPY stream, 20,000 rows a chunk. */
function* textRows(symbol: string, bars: readonly Bar[]): Generator<string> {
  for (let s = 0; s < bars.length; s += 20_000) {
    let chunk = '';
    for (const b of bars.slice(s, s + 20_000)) chunk += `${symbol}\t1m\t${new Date(b.ts).toISOString()}\t${b.open}\t${b.high}\t${b.low}\t${b.close}\t${b.volume}\n`;
    yield chunk;
  }
}

/** The backfill job as its workflow runs it (begin, chunks oldest first, end), each activity in an activity context. */
async function runBackfill(pool: Pool, redis: Redis, provider: MarketDataProvider, symbol: string, fromMs: number, toMs: number): Promise<BackfillCounts> {
  const acts = createMarketDataBackfillActivities({ db: pool, cache: new BarCache(redis), providers: { alpaca: provider } });
  const env = new MockActivityEnvironment();
  const run = <A, R>(f: (a: A) => Promise<R>, a: A) => env.run(f, a) as Promise<R>;
  const id = randomUUID();
  await insertBackfill(pool, { id, workflowId: backfillWorkflowId(id), provider: 'alpaca', symbol, timeframe: '1m', fromMs, toMs, mode: 'incremental', requestedBy: 'bench' });
  const plan = await run(acts.beginBackfill, { backfillId: id, workflowId: backfillWorkflowId(id) });
  if (!plan.ok) throw new Error(`backfill refused: ${plan.reason}`);
  const totals: BackfillCounts = { fetched: 0, stored: 0, replaced: 0, invalid: 0, done: 0 };
  for (let cursor: number | null = fromMs; cursor !== null; ) {
    const r: ChunkResult = await run(acts.backfillChunk, { backfillId: id, fromMs: cursor, totals: { ...totals } });
    for (const k of ['fetched', 'stored', 'replaced', 'invalid', 'done'] as const) totals[k] += r[k];
    cursor = r.nextFromMs;
  }
  await run(acts.endBackfill, { backfillId: id, status: 'completed' as const, totals });
  return totals;
}

/**
 * `bars` 1m bars of one symbol: (1) the backfill job through its activities, from the fake provider (fetch, screen,
 * write), (2) the backfill's writer alone on the same rows (prefetched) for another symbol, (3) a plain text COPY
 * of the same rows into a scratch table shaped like bars (same columns and indexes), all in this run, each after
 * VACUUM ANALYZE and a CHECKPOINT. Rates in rows/s; ratios against the COPY.
 */
export async function benchBackfill(pool: Pool, redis: Redis, provider: MarketDataProvider, bars: number, log: (m: string) => void): Promise<Record<string, unknown>> {
  const fromMs = Date.parse('2010-01-04T14:30:00Z');
  const toMs = calendarBars('XNYS', '1m', fromMs, Date.parse('2030-01-01T00:00:00Z'), bars).at(-1)!.open;
  await pool.query('CREATE TABLE bench_scratch_bars (LIKE bars INCLUDING ALL)');
  // a series sorting after every written one: no run appends at the right edge of the index (see bench/import.ts)
  for (const t of ['bars', 'bench_scratch_bars']) {
    await pool.query(`INSERT INTO ${t} (symbol, timeframe, ts, open, high, low, close, volume) SELECT 'ZZZZZZ', '1m', to_timestamp(k * 60), 1, 1, 1, 1, 1 FROM generate_series(1, 10000) k`);
  }
  const t0 = performance.now();
  const rows = ((await provider.fetchBars({ symbols: ['BFW'], timeframe: '1m', fromMs, toMs })).get('BFW') ?? []).map((b) => ({ ...b, symbol: 'BFW' }));
  if (rows.length !== bars) throw new Error(`the fake served ${rows.length} bars, expected ${bars}`);
  log(`fetched ${rows.length} bars once for the writer and the COPY in ${Math.round(performance.now() - t0)} ms`);

  let totals: BackfillCounts | undefined;
  const backfillMs = await timed(pool, async () => (totals = await runBackfill(pool, redis, provider, 'BFA', fromMs, toMs)));
  if (totals!.stored !== bars) throw new Error(`the backfill stored ${totals!.stored} of ${bars} bars`);
  log(`backfill (activities): ${Math.round(backfillMs)} ms`);
  const writerMs = await timed(pool, async () => {
    let stored = 0;
    for (let i = 0; i < rows.length; i += 2_000) stored += await storeBackfillRows(pool, '1m', 'incremental', 'BFW', rows.slice(i, i + 2_000)).then((r) => r.stored);
    if (stored !== bars) throw new Error(`the writer stored ${stored} of ${bars} bars`);
  });
  log(`writer alone: ${Math.round(writerMs)} ms`);
  const copyMs = await timed(pool, async () => {
    const client = await pool.connect();
    try {
      await pipeline(Readable.from(textRows('BFW', rows)), client.query(copyFrom('COPY bench_scratch_bars (symbol, timeframe, ts, open, high, low, close, volume) FROM STDIN')));
    } finally {
      client.release();
    }
  });
  log(`plain COPY: ${Math.round(copyMs)} ms`);
  const { rows: check } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM bench_scratch_bars WHERE symbol = 'BFW'`);
  if (Number(check[0]!.n) !== bars) throw new Error('the COPY did not store every row');
  await pool.query('DROP TABLE bench_scratch_bars');
  const rate = (ms: number) => Math.round(bars / (ms / 1000));
  return {
    bars,
    range: { from: new Date(fromMs).toISOString(), to: new Date(toMs + MIN).toISOString() },
    backfillRowsPerSec: rate(backfillMs),
    writerRowsPerSec: rate(writerMs),
    plainCopyRowsPerSec: rate(copyMs),
    ratioToPlainCopy: +(copyMs / backfillMs).toFixed(3),
    writerRatioToPlainCopy: +(copyMs / writerMs).toFixed(3),
    backfillMs: Math.round(backfillMs),
    writerMs: Math.round(writerMs),
    plainCopyMs: Math.round(copyMs),
  };
}
