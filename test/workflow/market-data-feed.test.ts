/**
 * The market-data workflows alone in the time-skipping environment, with the real feed, backfill and report
 * activities on real Postgres and Redis, and the replay provider (the live-feed simulator) serving a stored source
 * series under another symbol on the feed's data clock. Activities read the test server's time (the time the
 * attempt was scheduled), so the data clock follows the skipped time.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { createMarketDataBackfillActivities } from '../../activities/market-data-backfill';
import { createMarketDataFeedActivities } from '../../activities/market-data-feed';
import { createMarketDataReportActivities } from '../../activities/market-data-report';
import { getBackfill, insertBackfill } from '../../db/sql/market-data-backfills';
import { listMarketDataEvents } from '../../db/sql/market-data-events';
import { deleteFeedsOtherThan, upsertFeed } from '../../db/sql/market-data-feeds';
import { listQualityOfDay } from '../../db/sql/market-data-quality';
import { BarCache } from '../../marketdata/cache';
import { barsToColumns } from '../../marketdata/port';
import { DEFAULT_REFRESH_SETTINGS } from '../../marketdata/refresh';
import { ReplayProvider } from '../../marketdata/replay';
import { readWatermark } from '../../marketdata/watermark';
import { backfillWorkflowId, feedStateQuery, feedWorkflowId } from '../../workflows/market-data/messages';
import type { marketDataBackfillWorkflow, marketDataFeedWorkflow, marketDataQualityReportWorkflow } from '../../workflows/market-data/workflow';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, uniqueSymbol } from '../helpers/db';
import { freshDatabase, type FreshDatabase } from '../maintenance/fresh-db';
import { testStack } from '../helpers/stack';
import { bars } from '../marketdata/helpers';

const MIN = 60_000;
const Z = (iso: string) => Date.parse(`${iso}Z`);
/** Wednesday 2024-03-06, 09:30 New York */
const OPEN = Z('2024-03-06T14:30');

let env: TestWorkflowEnvironment;
let pool: Pool;
/**
 * A database of its own: every IO worker process another test file starts records its configured feeds and forgets
 * the others (marketdata/feeds.ts recordFeeds), which would end this file's feed workflows early.
 */
let db: FreshDatabase;
let redis: Redis;
const SOURCE = uniqueSymbol('SRC');
const SERVED = uniqueSymbol('LIVE');
const source = bars(120, OPEN, MIN); // 09:30 .. 11:29 New York

/** The test server's time inside an activity (the attempt's scheduled time), the wall clock elsewhere. */
function serverNow(): number {
  try {
    return Context.current().info.currentAttemptScheduledTimestampMs;
  } catch {
    return Date.now();
  }
}

beforeAll(async () => {
  const stack = testStack();
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: stack.TIME_SKIPPING_SERVER } } });
  db = await freshDatabase('md_feed');
  pool = db.pool;
  redis = new Redis(stack.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000 });
  await storeBars(pool, SOURCE, '1m', barsToColumns(source));
  // a deployment that trades the served symbol live on the replay feed
  const spec = { strategy: 'sma-cross', symbols: [SERVED], timeframe: '1m', accountId: 'md-test', dataProvider: 'replay' };
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, params_version, status, created_by) VALUES ($1, $2, 'md-test', 'paper', 'sma-cross', $3, 1, 'running', 'test')`, [
    randomUUID(),
    `deployment-${randomUUID()}`,
    JSON.stringify(spec),
  ]);
});

afterAll(async () => {
  redis?.disconnect();
  await db?.drop();
  await env?.teardown();
});

const settings = { ...DEFAULT_REFRESH_SETTINGS, lateBarWaitMs: 0, maxInlineGapBars: 5, warmupBars: 10 };

async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const cache = new BarCache(redis);
  const deps = { db: pool, redis, cache, providers: { replay: new ReplayProvider({ db: pool, symbols: { [SERVED]: SOURCE }, timeframe: '1m', calendar: 'XNYS' }) }, settings, now: serverNow };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: { ...createMarketDataFeedActivities(deps), ...createMarketDataBackfillActivities(deps), ...createMarketDataReportActivities({ db: pool, now: serverNow }) },
  });
  return worker.runUntil(fn);
}

const servedBars = async () => (await pool.query<{ t: number }>(`SELECT (extract(epoch from ts) * 1000)::float8 AS t FROM bars WHERE symbol = $1 AND timeframe = '1m' ORDER BY ts`, [SERVED])).rows.map((r) => Number(r.t));
const range = (from: number, to: number) => Array.from({ length: (to - from) / MIN + 1 }, (_, i) => from + i * MIN);

test('a feed refreshes at each bar close on its data clock, fills a short gap inline and a long one by a backfill job, in order, and publishes its watermark', async () => {
  // The served series stopped at 09:49; the replay clock starts at 10:00:30 data time.
  await storeBars(pool, SERVED, '1m', barsToColumns(source.slice(0, 20)));
  const wallStart = await env.currentTimeMs();
  await upsertFeed(pool, { provider: 'replay', timeframe: '1m', calendar: 'XNYS', settleMs: 1_000, clock: { dataStartMs: OPEN + 30 * MIN + 30_000, wallStartMs: wallStart, speed: 1 }, clockKey: 'ts-test' });
  await withWorker(async () => {
    // two refreshes per run: the third comes after a continue-as-new that carries the last close
    const handle = await env.client.workflow.start<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', { workflowId: feedWorkflowId('replay', '1m'), taskQueue: TASK_QUEUES.io, args: [{ provider: 'replay', timeframe: '1m', refreshesPerRun: 2 }] });
    await env.sleep(3 * MIN + 10_000); // closes 10:01, 10:02, 10:03 (+ 1 s settle each)
    expect((await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe()).status.name).toBe('CONTINUED_AS_NEW');
    const state = await env.client.workflow.getHandle(handle.workflowId).query(feedStateQuery);
    expect(state.refreshes).toBe(3);
    expect(state.last).toMatchObject({ barClose: OPEN + 33 * MIN, symbols: 1, onTime: 1, missing: 0 });

    // First refresh: the gap 09:50..09:59 (10 bars) is longer than 5: 09:55..09:59 came inline with 10:00, the rest
    // became a backfill job whose workflow filled it oldest first.
    const gapEvents = await listMarketDataEvents(pool, { symbol: SERVED }, 50);
    const ordered = gapEvents.slice().reverse().map((e) => `${e.kind}:${e.detail?.inline === true ? 'inline' : e.detail?.backfillId ? 'job' : ''}`);
    expect(ordered.filter((k) => k.startsWith('gap_found') || k.startsWith('backfill_done'))).toEqual(['gap_found:', 'backfill_done:inline', 'backfill_done:job']);
    expect(gapEvents.find((e) => e.kind === 'gap_found')).toMatchObject({ fromMs: OPEN + 20 * MIN, toMs: OPEN + 29 * MIN, bars: 10 });
    const jobId = gapEvents.find((e) => e.kind === 'backfill_done' && e.detail?.backfillId)!.detail!.backfillId as string;
    const job = await getBackfill(pool, jobId);
    expect(job).toMatchObject({ status: 'completed', requestedBy: 'feed: gap', fromMs: OPEN + 20 * MIN, toMs: OPEN + 24 * MIN, expected: 5, stored: 5 });
    // every bar from 09:30 to 10:02 is stored, none missing, none after the last closed bar
    expect(await servedBars()).toEqual(range(OPEN, OPEN + 32 * MIN));
    expect(await readWatermark(pool, redis, 'replay', '1m')).toBe(OPEN + 33 * MIN);
    // cached too: the newest cached bar is the newest stored
    const cached = await new BarCache(redis).getRecentBars(SERVED, '1m', 5, OPEN + 40 * MIN);
    expect(cached.map((b) => b.ts)).toEqual(range(OPEN + 28 * MIN, OPEN + 32 * MIN));
    const quality = await listQualityOfDay(pool, '2024-03-06', { provider: 'replay', symbol: SERVED });
    expect(quality).toMatchObject([{ expected: 33, received: 33, gaps: 1, refreshes: 3 }]);

    // The feed's row deleted (no longer configured): the workflow ends at its next bar.
    await deleteFeedsOtherThan(pool, []);
    expect(await env.client.workflow.getHandle(handle.workflowId).result()).toEqual({ outcome: 'removed', refreshes: 3, reason: 'feed replay 1m is no longer configured' });
  });
});

test('the daily report counts what the feeds recorded', async () => {
  await withWorker(async () => {
    const report = await env.client.workflow.execute<typeof marketDataQualityReportWorkflow>('marketDataQualityReportWorkflow', { workflowId: `report-${randomUUID()}`, taskQueue: TASK_QUEUES.io, args: [{ day: '2024-03-06' }] });
    const mine = report.worst.find((w) => w.symbol === SERVED);
    expect(mine).toMatchObject({ expected: 33, received: 33, gaps: 1, level: 'OK', missingRate: 0 });
    expect(report.expected).toBeGreaterThanOrEqual(33);
  });
  const n = await pool.query(`SELECT subject FROM notifications WHERE dedupe_key = 'marketdata.report:2024-03-06'`);
  expect(n.rows).toHaveLength(1);
});

test('a feed or backfill workflow started by hand without a recorded row does nothing but leave an audit row', async () => {
  await withWorker(async () => {
    const noFeed = await env.client.workflow.execute<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', { workflowId: feedWorkflowId('replay', '4h'), taskQueue: TASK_QUEUES.io, args: [{ provider: 'replay', timeframe: '4h' }] });
    expect(noFeed).toMatchObject({ outcome: 'refused', refreshes: 0, reason: expect.stringMatching(/no feed replay 4h is recorded/) });
    await upsertFeed(pool, { provider: 'replay', timeframe: '5m', calendar: 'XNYS', settleMs: 0, clock: null, clockKey: null });
    const otherId = await env.client.workflow.execute<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', { workflowId: `forged-${randomUUID()}`, taskQueue: TASK_QUEUES.io, args: [{ provider: 'replay', timeframe: '5m' }] });
    expect(otherId).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/runs only as workflow market-data-replay-5m/) });

    const forgedId = randomUUID();
    const forged = await env.client.workflow.execute<typeof marketDataBackfillWorkflow>('marketDataBackfillWorkflow', { workflowId: backfillWorkflowId(forgedId), taskQueue: TASK_QUEUES.io, args: [{ backfillId: forgedId }] });
    expect(forged).toMatchObject({ status: 'refused', stored: 0, error: expect.stringMatching(/is not recorded/) });
    // a recorded job started under another workflow id is refused too, and its row is not touched
    const id = randomUUID();
    await insertBackfill(pool, { id, workflowId: backfillWorkflowId(id), provider: 'replay', symbol: SERVED, timeframe: '1m', fromMs: OPEN, toMs: OPEN + 10 * MIN, mode: 'full', requestedBy: 'test' });
    const wrongId = await env.client.workflow.execute<typeof marketDataBackfillWorkflow>('marketDataBackfillWorkflow', { workflowId: `forged-${id}`, taskQueue: TASK_QUEUES.io, args: [{ backfillId: id }] });
    expect(wrongId).toMatchObject({ status: 'refused' });
    expect(await getBackfill(pool, id)).toMatchObject({ status: 'queued', stored: 0 });
  });
  const audit = await pool.query(`SELECT action, subject FROM audit_log WHERE action IN ('market-data.feed-refused', 'market-data.backfill-refused') ORDER BY id`);
  expect(audit.rows.map((r) => r.action)).toEqual(['market-data.feed-refused', 'market-data.feed-refused', 'market-data.backfill-refused', 'market-data.backfill-refused']);
});

test('a refresh whose every attempt fails skips its bar, never the feed', async () => {
  const wallStart = await env.currentTimeMs();
  await upsertFeed(pool, { provider: 'replay', timeframe: '15m', calendar: 'XNYS', settleMs: 1_000, clock: { dataStartMs: OPEN + 30 * MIN + 30_000, wallStartMs: wallStart, speed: 1 }, clockKey: 'ts-fail' });
  // a symbol the replay has no source for: the provider refuses the request for good (not retried)
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, params_version, status, created_by) VALUES ($1, $2, 'md-test', 'paper', 'sma-cross', $3, 1, 'running', 'test')`, [
    randomUUID(),
    `deployment-${randomUUID()}`,
    JSON.stringify({ strategy: 'sma-cross', symbols: ['NOSOURCE'], timeframe: '15m', accountId: 'md-test', dataProvider: 'replay' }),
  ]);
  await withWorker(async () => {
    const handle = await env.client.workflow.start<typeof marketDataFeedWorkflow>('marketDataFeedWorkflow', { workflowId: feedWorkflowId('replay', '15m'), taskQueue: TASK_QUEUES.io, args: [{ provider: 'replay', timeframe: '15m' }] });
    await env.sleep(15 * MIN); // the 10:15 close (+ settle): refused
    expect(await handle.query(feedStateQuery)).toMatchObject({ refreshes: 0, failures: 1, nextClose: OPEN + 60 * MIN, waitingOn: expect.stringMatching(/closing at 2024-03-06T15:30Z/) });
    await deleteFeedsOtherThan(pool, []);
    expect(await handle.result()).toMatchObject({ outcome: 'removed' });
  });
});
