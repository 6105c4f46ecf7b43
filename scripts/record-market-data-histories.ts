import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createMarketDataBackfillActivities } from '../activities/market-data-backfill';
import { createMarketDataFeedActivities } from '../activities/market-data-feed';
import { createMarketDataReportActivities } from '../activities/market-data-report';
import { importBarColumns } from '../db/bar-import';
import { deleteFeedsOtherThan, upsertFeed } from '../db/sql/market-data-feeds';
import { calendarBars } from '../domain/marketdata/calendar-bars';
import { buildBundles } from '../harness/bundles';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, timeSkippingServerPath } from '../harness/stack';
import { BarCache } from '../marketdata/cache';
import { barsToColumns } from '../marketdata/port';
import { DEFAULT_REFRESH_SETTINGS } from '../marketdata/refresh';
import { ReplayProvider } from '../marketdata/replay';
import { backfillWorkflowId, feedWorkflowId } from '../workflows/market-data/messages';
import type { marketDataFeedWorkflow, marketDataQualityReportWorkflow } from '../workflows/market-data/workflow';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the market-data replay fixtures (test/replay/histories/market-data-*.json) in the time-skipping environment
 * with the real activities on private Postgres and Redis and the replay provider: a feed that refreshes three bars and
 * finds a gap too long to fill inline (its backfill job's workflow too), a hand-started feed that is refused, and the
 * day report. `npx tsx scripts/record-market-data-histories.ts`
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const MIN = 60_000;
const OPEN = Date.parse('2024-03-06T14:30:00Z');

const serverNow = () => {
  try {
    return Context.current().info.currentAttemptScheduledTimestampMs;
  } catch {
    return Date.now();
  }
};

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record_md', temporal: false, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const redis = new Redis(stack.REDIS_URL);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } } });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    const opens = calendarBars('XNYS', '1m', OPEN, OPEN + 119 * MIN);
    const db = await pool.connect();
    const bar = (ts: number, i: number) => ({ ts, open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 1000 });
    await importBarColumns(db, 'SRC', '1m', barsToColumns(opens.map((o, i) => bar(o.open, i))));
    await importBarColumns(db, 'LIVE', '1m', barsToColumns(opens.slice(0, 20).map((o, i) => bar(o.open, i))));
    db.release();
    const spec = { strategy: 'sma-cross', symbols: ['LIVE'], timeframe: '1m', accountId: 'recorder', dataProvider: 'replay' };
    await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, params_version, status, created_by) VALUES ($1, $2, 'recorder', 'paper', 'sma-cross', $3, 1, 'running', 'recorder')`, [randomUUID(), 'deployment-recorder', JSON.stringify(spec)]);
    await upsertFeed(pool, { provider: 'replay', timeframe: '1m', calendar: 'XNYS', settleMs: 1_000, clock: { dataStartMs: OPEN + 30 * MIN + 30_000, wallStartMs: await env.currentTimeMs(), speed: 1 }, clockKey: 'recorder' });

    const deps = { db: pool, redis, cache: new BarCache(redis), providers: { replay: new ReplayProvider({ db: pool, symbols: { LIVE: 'SRC' }, timeframe: '1m', calendar: 'XNYS' }) }, settings: { ...DEFAULT_REFRESH_SETTINGS, lateBarWaitMs: 0, maxInlineGapBars: 5, warmupBars: 10 }, now: serverNow };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUES.io,
      workflowBundle: { codePath: path.join(bundleDir, 'io.js') },
      activities: { ...createMarketDataFeedActivities(deps), ...createMarketDataBackfillActivities(deps), ...createMarketDataReportActivities({ db: pool, now: serverNow }) },
    });
    await worker.runUntil(async () => {
      const feed = await env.client.workflow.start<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', { workflowId: feedWorkflowId('replay', '1m'), taskQueue: TASK_QUEUES.io, args: [{ provider: 'replay', timeframe: '1m' }] });
      await env.sleep(3 * MIN + 10_000);
      await deleteFeedsOtherThan(pool, []);
      console.log('feed:', await feed.result());
      await save('market-data-feed--refresh-gap.json', feed.workflowId);
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM market_data_backfills');
      const backfill = env.client.workflow.getHandle(backfillWorkflowId(rows[0]!.id));
      console.log('backfill:', await backfill.result());
      await save('market-data-backfill--completed.json', backfill.workflowId);
      const refused = await env.client.workflow.start<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', { workflowId: feedWorkflowId('replay', '4h'), taskQueue: TASK_QUEUES.io, args: [{ provider: 'replay', timeframe: '4h' }] });
      console.log('refused:', await refused.result());
      await save('market-data-feed--refused.json', refused.workflowId);
      const report = await env.client.workflow.start<typeof marketDataQualityReportWorkflow>('marketDataQualityReportWorkflow', { workflowId: 'market-data-report-recorder', taskQueue: TASK_QUEUES.io, args: [{ day: '2024-03-06' }] });
      await report.result();
      await save('market-data-report--completed.json', report.workflowId);
    });
  } finally {
    await env.teardown();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }

  async function save(name: string, workflowId: string) {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(path.join(OUT, name), historyToJSON(history));
    console.log(`recorded test/replay/histories/${name} (${history.events?.length} events)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
