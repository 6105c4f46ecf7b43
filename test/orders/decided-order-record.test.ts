import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createDecidedOrderActivities, type PlaceDecidedOrderAndRecordArgs, type PlaceDecidedOrderAndRecordResult } from '../../activities/decided-orders';
import { createDeploymentActActivities, type ActOnDeploymentActionArgs, type ActOnDeploymentActionResult } from '../../activities/deployment-act';
import { createDeploymentActionActivities } from '../../activities/deployment-actions';
import { createDeploymentActivities } from '../../activities/deployments';
import { createOrderActivities } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import type { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import type { PaperBrokerProcess } from '../../brokers/paper/start';
import type { ActionPayload } from '../../domain/deployment/batch';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { clientOrderId } from '../../domain/ids';
import type { OrderIntent } from '../../domain/risk/gate';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

/**
 * A batch deployment's decided order with its cycle row (activities/decided-orders.ts) against real Postgres and the
 * paper broker process: an attempt that dies after the broker got the order, and one whose result is lost after the
 * row was written, are both completed by running it again, with one broker order, one row and the action done.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
const account = `fold-${randomUUID().slice(0, 8)}`;

usePaperProcess(account, (p) => {
  ({ pool, paper, admin } = p);
});

/** The order activities against the paper broker, whose first attempt dies right after the broker got the order. */
function ordersDyingOnceAfterSend() {
  let armed = true;
  return createOrderActivities({
    db: pool, brokers: { paper: paperBrokerPort(paper.url) },
    crashPoint: (p) => {
      if (armed && p === 'after_broker_send') {
        armed = false;
        throw new Error(`worker died at ${p}`);
      }
    },
  });
}

test('a retried order-and-row sends the order once, writes its row once with the outcome, and ends the action once', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('FLD');
  await admin.setPrices({ [symbol]: 40 });
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: account, broker: 'paper' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec)]);
  const barClose = Date.UTC(2026, 11, 4, 14, 35);
  const actionId = `${deploymentId}:${barClose}`;
  await pool.query(`INSERT INTO deployment_actions (id, deployment_id, bar_close, cycle, params_version, payload) VALUES ($1, $2, $3, 7, 1, '{}')`, [actionId, deploymentId, barClose]);

  const orders = ordersDyingOnceAfterSend();
  const { recordCycle } = createDeploymentActivities({ db: pool });
  const { placeDecidedOrderAndRecord } = createDecidedOrderActivities({ placeOrder: orders.placeOrder, recordCycle, now: () => barClose + 1_500 });
  const coid = clientOrderId(`deployment-${deploymentId}`, 7, 0, 1);
  const args: PlaceDecidedOrderAndRecordArgs = {
    order: { clientOrderId: coid, deploymentId, workflowId: `deployment-${deploymentId}`, cycle: 7, leg: 0, intentVersion: 1, broker: 'paper', accountId: account, symbol, side: 'buy', qty: 2, orderType: 'market', timeInForce: 'day' },
    row: {
      deploymentId, paramsVersion: 1, positions: { [symbol]: 0 }, totalPnl: 12.5, why: 'signal', startedAt: barClose + 1_000, finishAction: { actionId, state: 'done' },
      record: { cycle: 7, barClose, symbol, action: 'skip', clientOrderIds: [], signal: 1, indicators: { fast: 41, slow: 40 } },
    },
  };
  const run = () => new MockActivityEnvironment().run(placeDecidedOrderAndRecord, args) as Promise<PlaceDecidedOrderAndRecordResult>;

  await expect(run()).rejects.toThrow('worker died at after_broker_send');
  const cycleRows = () => pool.query('SELECT action, reason, client_order_ids, signal, indicators, position_qty, realized_pnl, latency_ms FROM deployment_cycles WHERE deployment_id = $1', [deploymentId]);
  expect((await cycleRows()).rows).toEqual([]); // it died before the row
  const first = await run();
  const again = await run(); // its result lost after the row was written: run again
  for (const r of [first, again]) expect(r.placed).toMatchObject({ clientOrderId: coid });
  expect(['ACCEPTED', 'FILLED']).toContain(again.placed.state);
  expect((await admin.stats()).orders).toBe(1);
  expect((await cycleRows()).rows).toEqual([
    { action: 'order', reason: 'signal', client_order_ids: [coid], signal: 1, indicators: { fast: 41, slow: 40 }, position_qty: 0, realized_pnl: 12.5, latency_ms: 500 },
  ]);
  const action = await pool.query('SELECT state FROM deployment_actions WHERE id = $1', [actionId]);
  expect(action.rows).toEqual([{ state: 'done' }]);
});

test("an order wake's combined read-order-and-row that dies after the broker took the order sends it once when run again", async () => {
  const deploymentId = randomUUID();
  const workflowId = `deployment-${deploymentId}`;
  const symbol = uniqueSymbol('FLC');
  await admin.setPrices({ [symbol]: 40 });
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: account, broker: 'paper' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [deploymentId, workflowId, account, JSON.stringify(spec)]);
  const barClose = Date.UTC(2026, 11, 4, 14, 40);
  const actionId = `${deploymentId}:${barClose}`;
  const intent: OrderIntent = { symbol, side: 'buy', qty: 3, price: 40, reason: 'signal' };
  const payload: ActionPayload = {
    barClose, cycle: 9, paramsVersion: 1, snapshot: { positions: { [symbol]: 0 }, totalPnl: 0, kill: { global: false, account: false, deployment: false } }, prices: { [symbol]: 40 }, flatten: false,
    acts: [{ symbol, record: { cycle: 9, barClose, symbol, action: 'skip', clientOrderIds: [], signal: 1 }, action: { kind: 'order', intent, reducing: false, fillAtLevel: false } }],
  };
  await pool.query(`INSERT INTO deployment_actions (id, deployment_id, bar_close, cycle, params_version, payload) VALUES ($1, $2, $3, 9, 1, $4)`, [actionId, deploymentId, barClose, JSON.stringify(payload)]);

  const orders = ordersDyingOnceAfterSend();
  const { recordCycle } = createDeploymentActivities({ db: pool });
  const actions = createDeploymentActionActivities({ db: pool });
  const { actOnDeploymentAction } = createDeploymentActActivities({
    loadDeploymentAction: actions.loadDeploymentAction,
    ...createDecidedOrderActivities({ placeOrder: orders.placeOrder, recordCycle, now: () => barClose + 1_500 }),
  });
  const args: ActOnDeploymentActionArgs = {
    deploymentId, actionId, runKey: 'run-1', workflowId, broker: 'paper', accountId: account, startedAt: barClose + 1_000,
    facts: { status: 'running', shown: 'running', dataNow: barClose + 1_000, staleAfterBars: 2, timeframe: '5m' },
  };
  const run = () => new MockActivityEnvironment().run(actOnDeploymentAction, args) as Promise<ActOnDeploymentActionResult>;
  const brokerOrders = async () => (await admin.stats()).orders;
  const before = await brokerOrders();

  await expect(run()).rejects.toThrow('worker died at after_broker_send');
  expect(await brokerOrders()).toBe(before + 1); // the broker has it; the action is still pending, with no row
  const coid = clientOrderId(workflowId, 9, 0, 1);
  const again = await run();
  expect(again.loaded.ok).toBe(true);
  expect(again.placed?.placed).toMatchObject({ clientOrderId: coid });
  expect(await brokerOrders()).toBe(before + 1);
  const rows = await pool.query('SELECT action, reason, client_order_ids FROM deployment_cycles WHERE deployment_id = $1', [deploymentId]);
  expect(rows.rows).toEqual([{ action: 'order', reason: 'signal', client_order_ids: [coid] }]);
  expect((await pool.query('SELECT state FROM deployment_actions WHERE id = $1', [actionId])).rows).toEqual([{ state: 'done' }]);
  // Done now: a wake for it again is refused (with its audit row) and places nothing; the workflow's read after its
  // own failed attempt gets it back, marked done, while the workflow has not applied its cycle (9) ...
  expect((await run()).loaded).toMatchObject({ ok: false });
  expect(await brokerOrders()).toBe(before + 1);
  const refusals = async () => (await pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'deployment.act.refused' AND subject = $1`, [deploymentId])).rows;
  expect(await refusals()).toEqual([{ n: 1 }]);
  expect(await actions.loadDeploymentAction({ deploymentId, actionId, runKey: 'run-1', afterFailedAct: { appliedCycle: 8 } })).toMatchObject({ ok: true, done: true });
  // ... and never once it has (an old id sent again by hand, whose combined read failed): refused with its audit row.
  expect(await actions.loadDeploymentAction({ deploymentId, actionId, runKey: 'run-2', afterFailedAct: { appliedCycle: 9 } })).toMatchObject({ ok: false });
  expect(await refusals()).toEqual([{ n: 2 }]);
});
