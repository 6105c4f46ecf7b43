import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Pool } from 'pg';
import { createCpuActivities, type CpuActivities } from '../activities/cpu';
import { createJobActivities } from '../activities/jobs';
import { importBarColumns } from '../db/bar-import';
import { parseBacktestSettings } from '../domain/backtest/settings';
import { parseOhlcvCsv } from '../domain/csv';
import { buildBundles } from '../harness/bundles';
import { LOCAL_DIR, SHARED_DATA } from '../harness/paths';
import { privateStack } from '../harness/stack';
import { connectTemporal, ensureSearchAttributes } from '../platform/temporal';
import { startBacktest } from '../services/backtests';
import { backtestProgressQuery } from '../workflows/backtest/messages';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the committed replay fixtures (test/replay/histories/<workflow>--<scenario>.json) by running each
 * scenario on a real dev server with the current workflow code. Run after a deliberate workflow change:
 * `npx tsx scripts/record-histories.ts` (starts its own servers unless DATABASE_URL/TEMPORAL_ADDRESS are set).
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');

async function main() {
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record', temporal: true, redis: false });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const { client, connection } = await connectTemporal({ TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default' });
  await ensureSearchAttributes(connection, 'default');
  const native = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    const csv = readFileSync(path.join(SHARED_DATA, '2006-day-001.txt'), 'utf8');
    const db = await pool.connect();
    await importBarColumns(db, 'IDX', '1d', parseOhlcvCsv(csv, {}).bars);
    db.release();

    const signaller = { signal: (id: string, runId: string | undefined, name: string, arg: unknown) => client.workflow.getHandle(id, runId).signal(name, arg) };
    const slow: Partial<CpuActivities> = {
      async runBacktest() {
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat({ barsDone: 1, barsTotal: 2 });
          await Promise.race([ctx.cancelled, ctx.sleep(100)]);
        }
      },
    };
    const scenarios: Array<{ name: string; symbol: string; activities: Partial<CpuActivities>; cancel?: boolean }> = [
      { name: 'completed', symbol: 'IDX', activities: createCpuActivities({ db: pool, workflows: signaller }) },
      { name: 'failed-no-bars', symbol: 'NOPE', activities: createCpuActivities({ db: pool, workflows: signaller }) },
      { name: 'cancelled', symbol: 'IDX', activities: slow, cancel: true },
    ];
    mkdirSync(OUT, { recursive: true });
    for (const s of scenarios) {
      const settings = parseBacktestSettings({ strategy: 'sma-cross', params: { period: 20 } });
      const cpu = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.cpu, workflowBundle: { codePath: path.join(bundleDir, 'cpu.js') }, activities: s.activities, maxHeartbeatThrottleInterval: '2 seconds' });
      const io = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.io, activities: createJobActivities({ db: pool }) });
      const { handle } = await startBacktest({ db: pool, temporal: client }, { symbol: s.symbol, timeframe: '1d', settings, by: 'recorder' });
      await cpu.runUntil(
        io.runUntil(async () => {
          if (s.cancel) {
            while ((await handle.query(backtestProgressQuery)).phase !== 'running') await new Promise((r) => setTimeout(r, 100));
            await handle.cancel();
          }
          await handle.result().catch(() => undefined);
        }),
      );
      const file = path.join(OUT, `backtest--${s.name}.json`);
      writeFileSync(file, historyToJSON(await handle.fetchHistory()));
      console.log(`recorded ${path.relative(ROOT, file)}`);
    }
  } finally {
    await native.close();
    await connection.close();
    await pool.end();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
