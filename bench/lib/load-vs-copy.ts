import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { loadBarColumns, type BarRange } from '../../db/sql/bars';
import { median } from '../stack';

/** Streams a plain (text) `COPY (SELECT ...) TO STDOUT` of the range's rows and drops the bytes: the ceiling for any loader. */
async function plainCopy(pool: Pool, r: BarRange): Promise<number> {
  const client = await pool.connect();
  try {
    const sql = `COPY (SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ${client.escapeLiteral(r.symbol)} AND timeframe = ${client.escapeLiteral(r.timeframe)} ORDER BY ts) TO STDOUT`;
    let bytes = 0;
    await pipeline(client.query(copyTo(sql)), new Writable({ write: (chunk: Buffer, _e, cb) => ((bytes += chunk.length), cb()) }));
    return bytes;
  } finally {
    client.release();
  }
}

/**
 * Loading a series into typed-array columns (the loader backtests and scans use) against a plain COPY of the same
 * rows to a sink, interleaved in one run. ratioToPlainCopy = COPY time / load time (1 = as fast as the COPY alone).
 */
export async function benchBarLoad(pool: Pool, r: BarRange, reps = 5): Promise<Record<string, unknown>> {
  await loadBarColumns(pool, r); // warm-up: JIT, buffer cache
  await plainCopy(pool, r);
  const load: number[] = [];
  const copy: number[] = [];
  let bars = 0;
  let bytes = 0;
  for (let i = 0; i < reps; i++) {
    let t0 = performance.now();
    bars = (await loadBarColumns(pool, r)).length;
    load.push(performance.now() - t0);
    t0 = performance.now();
    bytes = await plainCopy(pool, r);
    copy.push(performance.now() - t0);
  }
  const ratio = median(copy) / median(load);
  return {
    bars,
    repetitions: reps,
    loadMs: Math.round(median(load)),
    plainCopyMs: Math.round(median(copy)),
    plainCopyBytes: bytes,
    ratioToPlainCopy: +ratio.toFixed(3),
    goal: { ratioToPlainCopyAtLeast: 0.8 },
    passed: ratio >= 0.8,
  };
}
