import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { insertBacktestJob } from '../../db/sql/backtest-jobs';
import { allocateBars, appendBar, type BarColumns } from '../../domain/bars';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import type { BacktestSettings } from '../../domain/backtest/types';
import type { BacktestWorkflowInput } from '../../workflows/backtest/messages';
import { testStack } from './stack';

export function testPool(): Pool {
  return new Pool({ connectionString: testStack().DATABASE_URL, max: 4 });
}

/** A symbol nobody else in this run uses. */
export function uniqueSymbol(prefix = 'T'): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.toUpperCase();
}

export { storeBars } from '../../harness/fixtures/bars';

/** A seeded random walk (mulberry32), daily bars from 2000-01-03. */
export function syntheticBars(n: number, seed = 42, stepMs = 86_400_000): BarColumns {
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const bars = allocateBars(n);
  let price = 100;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open * (1 + (rnd() - 0.5) * 0.04);
    // rnd() draws for high, low, then volume: a seed keeps giving the same bars
    const high = Math.max(open, close) * (1 + rnd() * 0.01);
    const low = Math.min(open, close) * (1 - rnd() * 0.01);
    appendBar(bars, { ts: Date.UTC(2000, 0, 3) + i * stepMs, open, high, low, close, volume: Math.floor(rnd() * 1e6) });
    price = close;
  }
  return bars;
}

/** Inserts a queued job row and returns the matching workflow input. */
export async function queuedJob(
  pool: Pool,
  symbol: string,
  timeframe: string,
  settings: Partial<BacktestSettings> = {},
): Promise<BacktestWorkflowInput> {
  const jobId = randomUUID();
  // pinned to one share (the default sizes by equity) unless the test sizes itself, so expected figures stay put
  const sized = 'sizing' in settings || 'quantity' in settings ? {} : { quantity: 1 };
  const full = parseBacktestSettings({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, ...sized, ...settings });
  await insertBacktestJob(pool, { id: jobId, workflowId: `backtest-${jobId}`, symbol, timeframe, settings: full, requestedBy: 'test' });
  return { jobId, symbol, timeframe, settings: full };
}

/**
 * The deployment's last cycle with a stored row (0 before its first): how far it has got, whoever evaluates it (its
 * own workflow, whose state query shows the same; or its batch evaluator, whose cycles the query shows only when the
 * deployment acts).
 */
export async function lastCycle(pool: Pool, deploymentId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT coalesce(max(cycle_seq), 0)::int AS n FROM deployment_cycles WHERE deployment_id = $1', [deploymentId]);
  return rows[0]!.n;
}

/** Waits (up to `timeoutMs` of wall time) until the deployment's last stored cycle is at least `n`. */
export async function untilCycle(pool: Pool, deploymentId: string, n: number, timeoutMs = 60_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end && (await lastCycle(pool, deploymentId)) < n; ) await new Promise((r) => setTimeout(r, 100));
}
