import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Pool } from 'pg';
import { Redis } from 'ioredis';
import { importBarColumns } from '../db/bar-import';
import { loadBarColumns } from '../db/sql/bars';
import { runBacktest } from '../domain/backtest/engine';
import { parseBacktestSettings } from '../domain/backtest/settings';
import { allocateBars, appendBar } from '../domain/bars';
import { buildBundles } from '../harness/bundles';
import { listLiveWorkers } from '../platform/heartbeat';
import { connectTemporal } from '../platform/temporal';
import { startBacktest } from '../services/backtests';
import { benchBarLoad } from './lib/load-vs-copy';
import { benchStack, median } from './stack';

const BARS = 500_000;
const REPS = 3;
const ROOT = path.resolve(__dirname, '..');

function randomWalk(n: number) {
  const bars = allocateBars(n);
  let price = 100;
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const open = price;
    const close = open * (1 + (seed / 2147483648 - 0.5) * 0.004);
    appendBar(bars, { ts: Date.UTC(2010, 0, 1) + i * 60_000, open, high: Math.max(open, close) * 1.0005, low: Math.min(open, close) * 0.9995, close, volume: 100 });
    price = close;
  }
  return bars;
}

/**
 * One backtest of 500k bars through the real path (job row, Temporal, CPU worker process loading bars from
 * Postgres, engine, persisting trades and results, IO worker marking the job) against loading the same bars
 * and running the engine in this process. Goal: end to end at most 1.5x the in-process time.
 */
export async function benchBacktestE2e(): Promise<Record<string, unknown>> {
  const stack = await benchStack({ temporal: true, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 2 });
  const redis = new Redis(stack.REDIS_URL);
  const workers: ChildProcess[] = [];
  const { client, connection } = await connectTemporal({ TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default' });
  try {
    const bundleDir = path.join(ROOT, '.local', 'bench', 'bundles');
    await buildBundles(bundleDir);
    const db = await pool.connect();
    await importBarColumns(db, 'E2E', '1m', randomWalk(BARS));
    db.release();
    // the loader alone, before the workers compete for the CPU
    const load = await benchBarLoad(pool, { symbol: 'E2E', timeframe: '1m' });

    const env = { ...process.env, DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, WORKFLOW_BUNDLE_DIR: bundleDir, LOG_LEVEL: 'warn' };
    for (const kind of ['cpu', 'io']) {
      const w = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [`workers/${kind}-worker.ts`], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
      workers.push(w);
    }
    const deadline = Date.now() + 60_000;
    while (new Set((await listLiveWorkers(redis)).map((w) => w.queue)).size < 2) {
      if (Date.now() > deadline) throw new Error('workers did not report a heartbeat within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }

    const settings = parseBacktestSettings({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, commissionRate: 0.0005 });
    const throughTemporal = async () => {
      const t0 = performance.now();
      // As POST /v1/backtests starts one (services/backtests.ts): the job row, then the workflow.
      const { handle } = await startBacktest({ db: pool, temporal: client }, { symbol: 'E2E', timeframe: '1m', settings, by: 'bench' });
      const summary = await handle.result();
      if ('status' in summary) throw new Error(`backtest start refused: ${summary.reason}`);
      return { ms: performance.now() - t0, trades: summary.trades };
    };
    const inProcess = async () => {
      const t0 = performance.now();
      const bars = await loadBarColumns(pool, { symbol: 'E2E', timeframe: '1m' });
      const result = runBacktest(bars, settings);
      return { ms: performance.now() - t0, trades: result.trades.length };
    };

    await throughTemporal(); // warm-up: JIT, worker caches, pool connections
    await inProcess();
    const e2e: number[] = [];
    const local: number[] = [];
    let trades = 0;
    for (let i = 0; i < REPS; i++) {
      const a = await throughTemporal();
      const b = await inProcess();
      if (a.trades !== b.trades) throw new Error(`trade counts differ: temporal ${a.trades}, in-process ${b.trades}`);
      trades = a.trades;
      e2e.push(a.ms);
      local.push(b.ms);
    }
    const ratio = median(e2e) / median(local);
    return {
      bars: BARS,
      repetitions: REPS,
      trades,
      endToEndMs: Math.round(median(e2e)),
      inProcessMs: Math.round(median(local)),
      ratio: +ratio.toFixed(3),
      goal: { ratioAtMost: 1.5 },
      passed: ratio <= 1.5 && load.passed === true,
      load,
      ratioToPlainCopy: load.ratioToPlainCopy,
      note: 'end to end = job row + workflow start + CPU worker loading bars from Postgres + engine + persisting trades/result + IO worker job update + result; in-process = the same SELECT into typed arrays + engine',
    };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode !== null ? undefined : new Promise((r) => w.once('exit', r)))));
    await connection.close();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }
}
