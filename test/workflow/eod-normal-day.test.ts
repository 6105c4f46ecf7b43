import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../../activities/io';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { listLiquidations } from '../../db/sql/liquidations';
import { activeHalts } from '../../db/sql/trading-halts';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { clientOrderId } from '../../domain/ids';
import { eodSchedulerWorkflow } from '../../workflows/eod/scheduler';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A normal trading day (Tuesday 2026-12-01, close 16:00 ET) in the time-skipping environment, on the exchange's time
 * through the scheduler's clock: a deployment with an eod policy trades during the day; at 15:55 ET (the close minus
 * its 5-minute margin) it becomes reduce-only (an entry a minute before goes out, one a minute after is refused
 * before the broker); its positions are flat by 15:59 ET; entries go out again from Wednesday's open. Real IO
 * activities, Postgres and paper broker. (Early close and holiday: eod-day.test.ts.)
 */
const ctx = useTradingEnvironment({
  accountPrefix: 'eodn',
  timeSkipping: false,
  // Other files' schedulers plan every running eod deployment: this one is done.
  beforeTeardown: ({ pool }) => pool?.query(`UPDATE deployments SET status = 'stopped' WHERE id = $1`, [deploymentId]),
});
const { account } = ctx;
const A = uniqueSymbol('NDA');
const B = uniqueSymbol('NDB');
const deploymentId = randomUUID();
const ET = (iso: string) => Date.parse(`${iso}-05:00`); // December: EST

beforeAll(async () => {
  await new PaperBrokerAdmin(ctx.paper.url).setPrices({ [A]: 40, [B]: 25 });
  const spec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [A, B], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', eod: { marginMinutes: 5 },
  });
  await ctx.pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
    deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
  ]);
});

let cycle = 0;
/** An order of the deployment through the real order activity (what its runtime does at a bar close). */
function order(symbol: string, side: 'buy' | 'sell', qty: number): Promise<PlaceOrderResult> {
  const c = ++cycle;
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, c, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: c, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side, qty, orderType: 'market', timeInForce: 'day',
  };
  const acts = createOrderActivities({ db: ctx.pool, brokers: { paper: paperBrokerPort(ctx.paper.url) } });
  return new MockActivityEnvironment().run(acts.placeOrder, input) as Promise<PlaceOrderResult>;
}
const brokerQty = async (symbol: string) => (await paperBrokerPort(ctx.paper.url).getPosition(symbol))?.qty ?? 0;

test('a normal day: trades during the day, reduce-only at 15:55 ET, flat by 15:59 ET, entries again at the next open', async () => {
  const stack = testStack();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: stack.TIME_SKIPPING_SERVER } } });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(stack.WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  const running = worker.run();
  try {
    const started = Date.now();
    const clock = { dataStartMs: ET('2026-12-01T09:30:00'), wallStartMs: await env.currentTimeMs(), speed: 1 };
    const until = async (iso: string) => env.sleep(Math.max(0, ET(iso) - (clock.dataStartMs + (await env.currentTimeMs()) - clock.wallStartMs)));
    const scheduler = await env.client.workflow.start(eodSchedulerWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `eod-scheduler-${account}`, args: [{ clock, sessions: 1, replanMs: 60 * 60_000, searchAttributes: false }] });

    // The day's trading: in, partly out, in again.
    await until('2026-12-01T10:15:00');
    expect((await order(A, 'buy', 12)).state).toBe('FILLED');
    await until('2026-12-01T12:40:00');
    expect((await order(A, 'sell', 5)).state).toBe('FILLED');
    expect((await order(B, 'buy', 8)).state).toBe('FILLED');
    await until('2026-12-01T15:54:00');
    expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: false });
    expect((await order(B, 'buy', 2)).state).toBe('FILLED'); // a minute before the margin: still an entry
    expect([await brokerQty(A), await brokerQty(B)]).toEqual([7, 10]);

    // 15:56: reduce-only since 15:55; an entry is refused before the broker.
    await until('2026-12-01T15:56:00');
    expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: true });
    const ordersBefore = (await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 100 })).length;
    const refused = await order(A, 'buy', 1);
    expect(refused.state).toBe('REJECTED');
    expect(refused.rejectReason).toMatch(/end of day: reduce-only until the next open/);
    expect((await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 100 })).length).toBe(ordersBefore);

    // 16:01: the verdict, flat by 15:59.
    await until('2026-12-01T16:01:00');
    const [day] = await listLiquidations(ctx.pool, { accountId: account }, 10, 0);
    expect(day).toMatchObject({ tradingDay: '2026-12-01', trigger: 'schedule', scope: 'deployments', deploymentIds: [deploymentId], status: 'flat', marginMinutes: 5 });
    expect(new Date(day!.reduceOnlyAtMs).toISOString()).toBe('2026-12-01T20:55:00.000Z'); // 15:55 ET
    expect(new Date(day!.flatByMs).toISOString()).toBe('2026-12-01T20:59:00.000Z');
    expect(new Date(day!.liftsAtMs).toISOString()).toBe('2026-12-02T14:30:00.000Z'); // Wednesday's open
    expect(day!.report).toMatchObject({ flat: true, inTime: true, left: [] });
    expect(day!.report!.verifiedAt).toBeGreaterThanOrEqual(day!.reduceOnlyAtMs);
    expect(day!.report!.verifiedAt).toBeLessThanOrEqual(day!.flatByMs);
    expect([await brokerQty(A), await brokerQty(B)]).toEqual([0, 0]);
    const closes = await ctx.pool.query<{ symbol: string; side: string; qty: number; state: string }>('SELECT symbol, side, qty, state FROM order_ledger WHERE workflow_id = $1 ORDER BY symbol', [day!.workflowId]);
    expect(closes.rows).toEqual(
      [{ symbol: A, side: 'sell', qty: 7, state: 'FILLED' }, { symbol: B, side: 'sell', qty: 10, state: 'FILLED' }].sort((x, y) => (x.symbol < y.symbol ? -1 : 1)),
    );

    // Still reduce-only overnight; Wednesday's open lifts it and entries go out again.
    await until('2026-12-02T09:29:00');
    expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: true });
    await until('2026-12-02T09:31:00');
    expect(await env.client.workflow.getHandle(day!.workflowId).result()).toMatchObject({ status: 'flat' });
    expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: false });
    const lift = (await listLiquidations(ctx.pool, { accountId: account }, 1, 0))[0]!.steps.find((s) => s.step === 'lift');
    expect(lift!.at).toBeGreaterThanOrEqual(Date.parse('2026-12-02T14:30:00.000Z'));
    expect(lift!.at).toBeLessThan(Date.parse('2026-12-02T14:31:00.000Z'));
    expect((await order(A, 'buy', 3)).state).toBe('FILLED');
    await scheduler.result();
    console.log(`a normal day, open to the next open, in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time`);
  } finally {
    worker.shutdown();
    await running;
    await env.teardown();
  }
}, 180_000);
