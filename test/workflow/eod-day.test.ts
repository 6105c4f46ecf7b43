import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDeploymentActivities } from '../../activities/deployments';
import { createIoActivities } from '../../activities/io';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { recordLiquidation } from '../../db/liquidation-records';
import { getLiquidation, listLiquidations } from '../../db/sql/liquidations';
import { listSymbolLocks } from '../../db/sql/symbol-locks';
import { activeHalts } from '../../db/sql/trading-halts';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { eodWindow } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import { eodLiquidationWorkflow } from '../../workflows/eod/liquidation';
import { eodSchedulerWorkflow } from '../../workflows/eod/scheduler';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * Whole trading days of end-of-day liquidation in the time-skipping environment, on the exchange's time through the
 * scheduler's clock: Christmas Eve 2026 (an early close, 13:00 ET), Christmas Day (a holiday: no liquidation) and the
 * next Monday (a normal close). Real IO activities, real Postgres and paper broker; days take seconds.
 */
const ctx = useTradingEnvironment({ accountPrefix: 'eod', timeSkipping: false });
const { account } = ctx;
const A = uniqueSymbol('EODA');
const B = uniqueSymbol('EODB');
const deploymentId = randomUUID();
const orders = () => createOrderActivities({ db: ctx.pool, brokers: { paper: paperBrokerPort(ctx.paper.url) } });

/**
 * A fresh time-skipping server and one IO worker with the real activities on it, for one test (a server whose clock
 * was skipped days ahead does not skip again reliably, so each day-run gets its own).
 */
async function timeSkipping(): Promise<{ env: TestWorkflowEnvironment; stop(): Promise<void> }> {
  const stack = testStack();
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: stack.TIME_SKIPPING_SERVER } } });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(stack.WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: createIoActivities({ db: ctx.pool, redis: ctx.redis, brokers: { paper: paperBrokerPort(ctx.paper.url) }, paperPrices: new PaperBrokerAdmin(ctx.paper.url) }),
  });
  const running = worker.run();
  return {
    env,
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

beforeAll(async () => {
  await new PaperBrokerAdmin(ctx.paper.url).setPrices({ [A]: 100, [B]: 50 });
  const spec = parseDeploymentSpec({
    strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [A, B], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', eod: { marginMinutes: 5 },
  });
  await ctx.pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
    deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
  ]);
});

let cycle = 0;
/** An order of the deployment through the real order activity (what its runtime does at a bar close). */
function entry(symbol: string, side: 'buy' | 'sell', qty: number): Promise<PlaceOrderResult> {
  const c = ++cycle;
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, c, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: c, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side, qty, orderType: 'market', timeInForce: 'day', ...(side === 'buy' ? { symbolLock: { ttlMs: 60_000 } } : {}),
  };
  return new MockActivityEnvironment().run(orders().placeOrder, input) as Promise<PlaceOrderResult>;
}

const brokerQty = async (symbol: string) => (await paperBrokerPort(ctx.paper.url).getPosition(symbol))?.qty ?? 0;
const ET = (iso: string) => Date.parse(`${iso}-05:00`); // December: EST

test('Christmas Eve (early close): reduce-only at 12:55 ET, flat by 12:59 ET, entries refused until the next open after the holiday', async () => {
  const { env, stop } = await timeSkipping();
  try {
  expect((await entry(A, 'buy', 10)).state).toBe('FILLED');
  expect((await entry(B, 'buy', 4)).state).toBe('FILLED');
  expect(await brokerQty(A)).toBe(10);
  expect((await listSymbolLocks(ctx.pool, account)).map((l) => [l.symbol, l.holder]).sort()).toEqual([[A, deploymentId], [B, deploymentId]].sort());

  // The scheduler on the exchange's clock from Christmas Eve 11:00 ET, for one session.
  const wallStart = await env.currentTimeMs();
  const clock = { dataStartMs: ET('2026-12-24T11:00:00'), wallStartMs: wallStart, speed: 1 };
  const started = Date.now();
  const scheduler = await env.client.workflow.start(eodSchedulerWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `eod-scheduler-${account}-1`, args: [{ clock, sessions: 1, replanMs: 60_000, searchAttributes: false }] });
  // Skip to 13:01 ET (after the close, before the summaries): the liquidation has its verdict and waits for the next open.
  await env.sleep(ET('2026-12-24T13:01:00') - clock.dataStartMs);
  const [eve] = await listLiquidations(ctx.pool, { accountId: account }, 10, 0);
  expect(eve).toMatchObject({ tradingDay: '2026-12-24', trigger: 'schedule', scope: 'deployments', deploymentIds: [deploymentId], status: 'flat', marginMinutes: 5 });
  expect(new Date(eve!.closeAtMs).toISOString()).toBe('2026-12-24T18:00:00.000Z'); // 13:00 ET
  expect(new Date(eve!.reduceOnlyAtMs).toISOString()).toBe('2026-12-24T17:55:00.000Z');
  expect(new Date(eve!.flatByMs).toISOString()).toBe('2026-12-24T17:59:00.000Z');
  expect(new Date(eve!.liftsAtMs).toISOString()).toBe('2026-12-28T14:30:00.000Z'); // Monday's open: the 25th is a holiday
  expect(eve!.report).toMatchObject({ flat: true, inTime: true, left: [] });
  expect(eve!.report!.verifiedAt).toBeGreaterThanOrEqual(eve!.reduceOnlyAtMs);
  expect(eve!.report!.verifiedAt).toBeLessThanOrEqual(eve!.flatByMs);
  expect(eve!.steps.map((s) => s.step)).toEqual(expect.arrayContaining(['reduce-only', 'cancel', 'round 1', 'verify']));
  expect(await brokerQty(A)).toBe(0);
  expect(await brokerQty(B)).toBe(0);
  expect(await listSymbolLocks(ctx.pool, account)).toEqual([]); // no lock left behind
  // closes went through the ledger, attributed to the deployment, once each
  const closes = await ctx.pool.query<{ symbol: string; side: string; qty: number; state: string }>(
    'SELECT symbol, side, qty, state FROM order_ledger WHERE workflow_id = $1 ORDER BY symbol', [eve!.workflowId],
  );
  expect(closes.rows).toEqual([
    { symbol: A, side: 'sell', qty: 10, state: 'FILLED' },
    { symbol: B, side: 'sell', qty: 4, state: 'FILLED' },
  ].sort((x, y) => (x.symbol < y.symbol ? -1 : 1)));
  const brokerOrders = await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 100 });
  expect(brokerOrders).toHaveLength(4);

  // Between the verdict and Monday's open: reduce-only. An entry is refused before the broker; the risk gate says why.
  expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: true });
  const refused = await entry(A, 'buy', 1);
  expect(refused.state).toBe('REJECTED');
  expect(refused.rejectReason).toMatch(/end of day: reduce-only until the next open/);
  const snapshot = await new MockActivityEnvironment().run(createDeploymentActivities({ db: ctx.pool }).loadRiskSnapshot, { deploymentId, accountId: account, prices: {} });
  expect((snapshot as { kill: { eod?: boolean } }).kill.eod).toBe(true);
  expect(await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 100 })).toHaveLength(4);

  // Monday's open lifts it (the liquidation workflow waits for it across the holiday), and entries go out again.
  await scheduler.result();
  const result = await env.client.workflow.getHandle(eve!.workflowId).result();
  expect(result).toMatchObject({ status: 'flat' });
  expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: false });
  expect((await getLiquidation(ctx.pool, eve!.id))!.liftedAt).not.toBeNull();
  expect((await entry(A, 'buy', 3)).state).toBe('FILLED');
  console.log(`Christmas Eve, open to the next open, in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time`);
  } finally {
    await stop();
  }
}, 120_000);

test('Christmas Day is a holiday: a scheduler started on it liquidates Monday the 28th at 15:55 ET (a normal close), and each day gets its summary', async () => {
  const { env, stop } = await timeSkipping();
  try {
  const started = Date.now();
  expect(await brokerQty(A)).toBe(3);
  const clock2 = { dataStartMs: ET('2026-12-25T10:00:00'), wallStartMs: await env.currentTimeMs(), speed: 1 };
  const scheduler2 = await env.client.workflow.start(eodSchedulerWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: `eod-scheduler-${account}-2`, args: [{ clock: clock2, sessions: 1, replanMs: 60 * 60_000, searchAttributes: false }] });
  await env.sleep(ET('2026-12-28T16:05:00') - clock2.dataStartMs);
  await scheduler2.result();
  const days = (await listLiquidations(ctx.pool, { accountId: account }, 10, 0)).map((l) => l.tradingDay).sort();
  expect(days).toEqual(['2026-12-24', '2026-12-28']);
  const monday = (await listLiquidations(ctx.pool, { accountId: account, date: '2026-12-28' }, 1, 0))[0]!;
  expect(new Date(monday.reduceOnlyAtMs).toISOString()).toBe('2026-12-28T20:55:00.000Z'); // 15:55 ET
  expect(monday.report).toMatchObject({ flat: true, inTime: true });
  expect(await brokerQty(A)).toBe(0);
  // the daily summaries of both days were written (the scheduler writes them after each close)
  const summaries = await ctx.pool.query<{ trading_day: string; scope: string }>(
    `SELECT trading_day::text, scope FROM daily_summaries WHERE account_id = $1 ORDER BY 1, 2`, [account],
  );
  expect(summaries.rows).toEqual([
    { trading_day: '2026-12-24', scope: 'account' },
    { trading_day: '2026-12-24', scope: 'deployment' },
    { trading_day: '2026-12-28', scope: 'account' },
    { trading_day: '2026-12-28', scope: 'deployment' },
  ]);
  console.log(`Christmas Day to Monday's close in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time`);
  } finally {
    await stop();
  }
}, 120_000);

test('a liquidation workflow started by hand with an id nobody recorded (or a row of another workflow) does nothing but leave an audit row', async () => {
  const { env, stop } = await timeSkipping();
  try {
  const before = await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 500 });
  // The test before may leave the account reduce-only until the next open (the scheduler lifts it): compare, not assume.
  const haltsBefore = await activeHalts(ctx.pool, account, deploymentId);
  const forged = [
    { id: `eod-${account}-forged-1`, arg: { liquidationId: randomUUID() } },
    { id: `eod-${account}-forged-2`, arg: { liquidationId: "x'; DROP TABLE liquidations; --" } },
    { id: `eod-${account}-forged-3`, arg: undefined as unknown as { liquidationId: string } },
  ];
  const [real] = await listLiquidations(ctx.pool, { accountId: account }, 1, 0);
  forged.push({ id: `eod-${account}-forged-4`, arg: { liquidationId: real!.id } }); // a real row, but not this workflow's
  for (const f of forged) {
    const r = await env.client.workflow.execute(eodLiquidationWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: f.id, args: [f.arg] });
    expect(r.status).toBe('refused');
    const audit = await ctx.pool.query('SELECT actor FROM audit_log WHERE action = $1 AND subject = $2', ['liquidation.refused', f.id]);
    expect(audit.rows).toEqual([{ actor: 'temporal' }]);
  }
  expect(await paperBrokerPort(ctx.paper.url).listOrders({ status: 'all', limit: 500 })).toHaveLength(before.length);
  expect(await activeHalts(ctx.pool, account, deploymentId)).toMatchObject({ eod: haltsBefore.eod });
  } finally {
    await stop();
  }
}, 120_000);

test('the day after Thanksgiving (13:00 ET close) under broker faults (rejects, 5xx, fills in 3 slices): remainders and refused closes go out again with backoff, flat by 12:59 ET, each close sent once', async () => {
  const { env, stop } = await timeSkipping();
  const admin = new PaperBrokerAdmin(ctx.paper.url);
  try {
    // another deployment of the account (the first is still reduce-only until Tuesday's open)
    const other = randomUUID();
    const otherSpec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [A, B], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS' });
    await ctx.pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [other, `deployment-${other}`, account, JSON.stringify(otherSpec)]);
    const acts = orders();
    for (const [c, symbol, qty] of [[1, A, 9], [2, B, 5]] as const) {
      const input: PlaceOrderInput = {
        clientOrderId: clientOrderId(`deployment-${other}`, c, 0, 1), deploymentId: other, workflowId: `deployment-${other}`, cycle: c, leg: 0, intentVersion: 1,
        broker: 'paper', accountId: account, symbol, side: 'buy', qty, orderType: 'market', timeInForce: 'day',
      };
      expect(((await new MockActivityEnvironment().run(acts.placeOrder, input)) as PlaceOrderResult).state).toBe('FILLED');
    }
    await admin.configure({ partialFillSlices: 3 });
    await admin.setFaults({ seed: 13, reject: 0.3, http5xx: 0.2 });
    const window = eodWindow('XNYS', '2026-11-27', 5)!;
    const clock = { dataStartMs: ET('2026-11-27T12:54:00'), wallStartMs: await env.currentTimeMs(), speed: 1 };
    const { liquidation } = await recordLiquidation(ctx.pool, {
      accountId: account, calendar: 'XNYS', trigger: 'manual', requestedBy: 'test', reason: 'faults', scope: 'account', deploymentIds: [], brokers: ['paper'], marginMinutes: 5, window, clock,
    });
    const handle = await env.client.workflow.start(eodLiquidationWorkflow, { taskQueue: TASK_QUEUES.io, workflowId: liquidation.workflowId, args: [{ liquidationId: liquidation.id }] });
    await env.sleep(ET('2026-11-27T13:00:00') - clock.dataStartMs);
    const done = (await getLiquidation(ctx.pool, liquidation.id))!;
    expect(done.status).toBe('flat');
    expect(done.report).toMatchObject({ flat: true, inTime: true, left: [] });
    expect(done.report!.verifiedAt).toBeLessThanOrEqual(ET('2026-11-27T12:59:00'));
    expect(done.report!.rounds).toBeGreaterThan(2);
    expect(await brokerQty(A)).toBe(0);
    expect(await brokerQty(B)).toBe(0);
    const closes = await ctx.pool.query<{ client_order_id: string; state: string; filled_qty: number; symbol: string }>('SELECT client_order_id, state, filled_qty, symbol FROM order_ledger WHERE workflow_id = $1', [liquidation.workflowId]);
    expect(closes.rows.length).toBeGreaterThan(2); // remainders and refused closes went out again
    expect(closes.rows.some((r) => r.state === 'REJECTED')).toBe(true);
    const filled = (s: string) => closes.rows.filter((r) => r.symbol === s).reduce((t, r) => t + r.filled_qty, 0);
    expect([filled(A), filled(B)]).toEqual([9, 5]);
    // each close at most once at the broker
    const stats = await admin.stats();
    expect(stats.duplicateClientOrderIds).toBe(0);
    console.log(`faults: ${closes.rows.length} closes over ${done.report!.rounds} rounds, verified flat at ${new Date(done.report!.verifiedAt).toISOString()}`);
    await handle.terminate('test done');
  } finally {
    await admin.clearFaults();
    await admin.configure({ partialFillSlices: 1 });
    await stop();
  }
}, 120_000);
