/**
 * Market data of the runtime benchmark: real 1-minute bars from the shared data folder (read in place, never
 * copied into the repository), or the seeded synthetic random walk when that file is absent. Each deployment
 * trades its own symbol: a different stretch of the source prices, re-stamped onto the 1-minute grid of one
 * past NYSE session, stored in Postgres (and in the Redis cache, as the market-data refresh would keep it).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { importBarColumns } from '../../db/bar-import';
import { allocateBars, appendBar, barAt, type BarColumns } from '../../domain/bars';
import { currentOrNextSession, sessionBarCloses, type TradingSession } from '../../domain/calendar';
import { parseOhlcvCsv } from '../../domain/csv';
import { randomWalkBars } from '../../domain/synthetic';
import { BarCache } from '../../marketdata/cache';
import { columnsToBars } from '../../marketdata/port';

const ROOT = path.resolve(__dirname, '..', '..');
/** Bar closes before the data anchor: the cycle's 300-bar window is full from the first tick (cache hits). */
const WARMUP_BARS = 330;

export interface ReplaySource {
  /** 'file:<path>' or 'synthetic:random-walk(seed 42)' */
  name: string;
  bars: BarColumns;
}

/** The replayed session: Tue 2025-03-04 on XNYS; its bar closes and the data anchor (data time of the first measured hour). */
export interface ReplaySession {
  session: TradingSession;
  /** every bar close of the session, ascending */
  closes: number[];
  /** data time the replay clock starts at: WARMUP_BARS closes into the session, 60 closes before its end */
  anchorMs: number;
}

export function replaySession(): ReplaySession {
  const session = currentOrNextSession('XNYS', Date.UTC(2025, 2, 4, 12));
  const closes = sessionBarCloses(session, '1m');
  return { session, closes, anchorMs: closes[WARMUP_BARS - 1]! };
}

/** The real 1-minute bars of `file` when it exists, else the seeded synthetic walk (stated in `name`). */
export function loadReplaySource(file: string): ReplaySource {
  const abs = path.resolve(ROOT, file);
  if (!existsSync(abs)) return { name: 'synthetic:random-walk(seed 42), the data file was not found', bars: randomWalkBars(30_000, { seed: 42 }) };
  const parsed = parseOhlcvCsv(readFileSync(abs, 'utf8'));
  if (parsed.accepted < 1000) throw new Error(`${abs}: only ${parsed.accepted} valid bars`);
  return { name: `file:${path.relative(ROOT, abs)} (${parsed.accepted} bars)`, bars: parsed.bars };
}

/** Deployment `index`'s bars: source prices from a per-index offset, stamped with the session's bar open times. */
export function deploymentBars(source: ReplaySource, closes: readonly number[], index: number): BarColumns {
  const n = closes.length;
  const span = source.bars.length - n;
  const offset = (index * 389) % span;
  const out = allocateBars(n);
  for (let i = 0; i < n; i++) appendBar(out, { ...barAt(source.bars, offset + i), ts: closes[i]! - 60_000 });
  return out;
}

/** Stores each symbol's bars in Postgres and, with `cache`, in the Redis bar cache too. */
export async function storeReplayBars(pool: Pool, redis: Redis | undefined, barsBySymbol: ReadonlyMap<string, BarColumns>): Promise<void> {
  const cache = redis ? new BarCache(redis) : undefined;
  const client = await pool.connect();
  try {
    for (const [symbol, bars] of barsBySymbol) {
      await importBarColumns(client, symbol, '1m', bars);
      await cache?.putBars(symbol, '1m', columnsToBars(bars));
    }
  } finally {
    client.release();
  }
}
