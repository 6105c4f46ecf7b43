import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { allocateBars, appendBar } from '../../domain/bars';
import { sessionBarCloses } from '../../domain/calendar';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { upsertFeed } from '../../db/sql/market-data-feeds';
import { publishWatermark } from '../../marketdata/watermark';
import { ensureSearchAttributes } from '../../platform/temporal';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, uniqueSymbol, untilCycle } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { nextTestDay } from '../helpers/sessions';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A whole NYSE trading day of one deployment on 5-minute bars, open to close, in the time-skipping
 * environment: real IO activities, real Postgres, Redis and paper broker; the day takes seconds.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'day' });
const { account } = ctx;

/** 5-minute bars for the sessions [from, to] (a zig-zag with a trend change, so sma-cross trades). */
function sessionBars(closes: number[]) {
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const price = 100 + 5 * Math.sin(i / 6) + i * 0.01;
    const open = i === 0 ? price : bars.close[i - 1];
    appendBar(bars, { ts: close - 300_000, open, high: Math.max(open, price) + 0.1, low: Math.min(open, price) - 0.1, close: price, volume: 1000 });
  });
  return bars;
}

/** An IO worker on `testEnv` with the real activities, and a deployment (sma-cross 3/8 on 5-minute bars of `symbol`, XNYS) created as the API creates one. */
async function dayDeployment(testEnv: TestWorkflowEnvironment, symbol: string, cyclesPerRun?: number, extra: Record<string, unknown> = {}) {
  const spec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: account, broker: 'paper',
    allowShort: false, calendar: 'XNYS', settleDelayMs: 1_000, riskLimits: { maxExposure: 1e6, maxPositionQty: 10 }, ...extra,
  });
  const worker = await Worker.create({
    connection: testEnv.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  await ensureSearchAttributes(testEnv.connection, 'default'); // the start sets them, as the API's does
  const { id: deploymentId, handle } = await createDeployment({ db: ctx.pool, temporal: testEnv.client }, { spec, by: 'test', ...(cyclesPerRun ? { cyclesPerRun } : {}) });
  return { deploymentId, handle, worker };
}

test('a deployment trades a whole NYSE day open to close, once per bar, with no duplicate order', async () => {
  const symbol = uniqueSymbol('DAY');
  // The next full session, and the one before it for the strategy's warm-up.
  const { now, day, previous } = await nextTestDay(ctx.env);
  const warmup = sessionBarCloses(previous, '5m');
  const today = sessionBarCloses(day, '5m');
  await storeBars(ctx.pool, symbol, '5m', sessionBars([...warmup, ...today]));
  const { deploymentId, handle, worker } = await dayDeployment(ctx.env, symbol, 30);

  const result = await worker.runUntil(async () => {
    // Skip to just after the close (plus the settle delay), let the last cycle finish, then stop the runtime.
    await ctx.env.sleep(day.close + 60_000 - now);
    await untilCycle(ctx.pool, deploymentId, today.length);
    await issueDeploymentCommand({ db: ctx.pool, temporal: ctx.env.client }, { deploymentId, kind: 'stop', by: 'test' });
    return handle.result();
  });

  expect(result.status).toBe('stopped');
  const cycles = await ctx.pool.query<{ n: number; first: Date; last: Date; stale: number }>(
    `SELECT count(*)::int AS n, min(bar_close) AS first, max(bar_close) AS last, count(*) FILTER (WHERE reason LIKE 'stale-data%')::int AS stale
     FROM deployment_cycles WHERE deployment_id = $1`,
    [deploymentId],
  );
  expect(cycles.rows[0]).toMatchObject({ n: today.length, stale: 0 });
  expect(cycles.rows[0]!.first.getTime()).toBe(today[0]);
  expect(cycles.rows[0]!.last.getTime()).toBe(day.close);

  // Orders: one ledger row per order, one broker order per ledger row, every fill stored once.
  const ledger = await ctx.pool.query<{ client_order_id: string; state: string; filled_qty: number }>('SELECT client_order_id, state, filled_qty FROM order_ledger WHERE deployment_id = $1', [deploymentId]);
  expect(ledger.rows.length).toBeGreaterThan(2);
  const broker = paperBrokerPort(ctx.paper.url);
  for (const row of ledger.rows) {
    const order = await broker.getOrderByClientId(row.client_order_id);
    expect(order?.filledQty).toBe(row.filled_qty);
  }
  const brokerOrders = await broker.listOrders({ status: 'all', limit: 500 });
  expect(brokerOrders.length).toBe(ledger.rows.length);
  const fills = await ctx.pool.query<{ qty: number }>(`SELECT sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END)::float8 AS qty FROM fills WHERE deployment_id = $1`, [deploymentId]);
  const positions = await broker.listPositions();
  expect(fills.rows[0]!.qty).toBe(positions.find((p) => p.symbol === symbol)?.qty ?? 0);
  // The cycle count carried across runs (78 cycles; a deployment of its own continues as new every 30). A batch-evaluated
  // one's workflow counts the cycles it acted in: its evaluator's count is the risk state's.
  const { history } = await ctx.env.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: `deployment-${deploymentId}` } });
  expect(history?.events?.length).toBeGreaterThan(0);
  const counted = (await ctx.pool.query<{ cycle: number }>('SELECT cycle FROM deployment_risk_states WHERE deployment_id = $1', [deploymentId])).rows[0]?.cycle ?? (result as { cycles: number }).cycles;
  expect(counted).toBe(today.length);
}, 300_000);

test('a revised older bar reaches the next decision: the runtime sees its held window no longer matches and reads it whole', async () => {
  // A fresh time-skipping server: the first test's leaves its clock far ahead (past the calendar's range).
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
  try {
    const symbol = uniqueSymbol('REV');
    const { now, day, previous } = await nextTestDay(env);
    await storeBars(ctx.pool, symbol, '5m', sessionBars([...sessionBarCloses(previous, '5m'), ...sessionBarCloses(day, '5m')]));
    const { deploymentId, handle, worker } = await dayDeployment(env, symbol);
    const BAR = 5 * 60_000;
    const until = (n: number) => untilCycle(ctx.pool, deploymentId, n);
    const sixth = day.open + 6 * BAR;
    await worker.runUntil(async () => {
      await env.sleep(sixth + 2_000 - now);
      await until(6);
      // The runtime holds the bars up to the one that opened at sixth - BAR; the one before it is revised.
      await ctx.pool.query(`UPDATE bars SET close = close + 50 WHERE symbol = $1 AND timeframe = '5m' AND ts = to_timestamp($2::float8 / 1000.0)`, [symbol, sixth - 2 * BAR]);
      await env.sleep(BAR);
      await until(7);
      await issueDeploymentCommand({ db: ctx.pool, temporal: env.client }, { deploymentId, kind: 'stop', by: 'test' });
      await handle.result();
    });

    // The seventh cycle's slow average is over the 8 stored closes up to its bar, the revised one included.
    const closes = await ctx.pool.query<{ close: number }>(
      `SELECT close FROM bars WHERE symbol = $1 AND timeframe = '5m' AND ts <= to_timestamp($2::float8 / 1000.0) ORDER BY ts DESC LIMIT 8`,
      [symbol, sixth],
    );
    const slow = closes.rows.reduce((a, r) => a + r.close, 0) / 8;
    const cycle = await ctx.pool.query<{ indicators: { slow: number } }>(`SELECT indicators FROM deployment_cycles WHERE deployment_id = $1 AND bar_close = to_timestamp($2::float8 / 1000.0)`, [deploymentId, sixth + BAR]);
    expect(cycle.rows).toHaveLength(1);
    expect(cycle.rows[0]!.indicators.slow).toBeCloseTo(slow, 9);
    // and it differs from the average without the revision (what a window extended blindly would have given)
    expect(Math.abs(cycle.rows[0]!.indicators.slow - (slow - 50 / 8))).toBeGreaterThan(1);
  } finally {
    await env.teardown();
  }
}, 300_000);

test('on a live feed, a cycle never decides on a bar the feed has not stored: it waits up to barWaitMs, then skips as stale-data', async () => {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
  try {
    const symbol = uniqueSymbol('FEED');
    const { now, day, previous } = await nextTestDay(env);
    const BAR = 5 * 60_000;
    // The bars are all stored, but the feed has published only the first three closes of the day.
    await storeBars(ctx.pool, symbol, '5m', sessionBars([...sessionBarCloses(previous, '5m'), ...sessionBarCloses(day, '5m')]));
    await upsertFeed(ctx.pool, { provider: 'replay', timeframe: '5m', calendar: 'XNYS', settleMs: 0, clock: null, clockKey: randomUUID() });
    await ctx.redis.del('md:watermark:replay:5m');
    await publishWatermark(ctx.pool, ctx.redis, 'replay', '5m', day.open + 3 * BAR, { test: true });
    const { deploymentId, handle, worker } = await dayDeployment(env, symbol, undefined, { dataProvider: 'replay', barWaitMs: 300 });
    await worker.runUntil(async () => {
      await env.sleep(day.open + 5 * BAR + 2_000 - now);
      await untilCycle(ctx.pool, deploymentId, 5);
      await issueDeploymentCommand({ db: ctx.pool, temporal: env.client }, { deploymentId, kind: 'stop', by: 'test' });
      await handle.result();
    });
    const cycles = await ctx.pool.query<{ bar_close: Date; reason: string | null }>('SELECT bar_close, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY bar_close', [deploymentId]);
    const rows = cycles.rows.map((r) => ({ close: r.bar_close.getTime(), stale: (r.reason ?? '').startsWith('stale-data') }));
    expect(rows.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((k) => ({ close: day.open + k * BAR, stale: k > 3 })));
    expect(cycles.rows[3]!.reason).toBe(`stale-data: the replay 5m feed has not stored the bar closing at ${new Date(day.open + 4 * BAR).toISOString()} (waited 300 ms; its last is ${new Date(day.open + 3 * BAR).toISOString()})`);
  } finally {
    await env.teardown();
  }
}, 300_000);
