import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createOrderResolutionActivities } from '../../activities/order-resolution';
import { createOrderActivities, type PlaceOrderInput } from '../../activities/orders';
import { paperBrokerPort, type BrokerPort } from '../../brokers';
import type { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { freePort, type PaperBrokerProcess } from '../../brokers/paper/start';
import { getLedgerOrder } from '../../db/sql/order-ledger';
import { clientOrderId } from '../../domain/ids';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

/**
 * Resolving an order a stop, pause or flatten no longer waits for, at the activity level against real Postgres and
 * the paper broker process: never sent -> CANCELED, and a late attempt sends nothing; possibly sent -> looked up,
 * never abandoned; and the ledger row's lock orders a submission in flight against its resolution.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
let dead: BrokerPort;
const account = `res-${randomUUID().slice(0, 8)}`;

usePaperProcess(account, async (p) => {
  ({ pool, paper, admin } = p);
  dead = paperBrokerPort(`http://127.0.0.1:${await freePort()}`, { timeoutMs: 2_000 });
});

afterEach(async () => {
  await admin.clearFaults();
});

const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment().run(fn, ...args) as Promise<R>;
const live = () => paperBrokerPort(paper.url, { timeoutMs: 2_000 });
const orders = (broker: BrokerPort) => createOrderActivities({ db: pool, brokers: { paper: broker } });
const resolution = (broker: BrokerPort, lookupSettleMs = 1_500) => createOrderResolutionActivities({ db: pool, brokers: { paper: broker }, lookupSettleMs });

function order(symbol: string): PlaceOrderInput {
  const deploymentId = randomUUID();
  return {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, 1, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: 1, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side: 'buy', qty: 1, orderType: 'market', timeInForce: 'day',
  };
}

test('cancelled before its activity ever ran: the row is recorded CANCELED, and an attempt that starts late sends nothing', async () => {
  const o = order(uniqueSymbol('PRE'));
  const resolved = await run(resolution(dead).resolveOrder, { order: o, reason: 'deployment stopped by tom' });
  expect(resolved).toMatchObject({ clientOrderId: o.clientOrderId, state: 'CANCELED', rejectReason: 'deployment stopped by tom: never sent' });
  await admin.setPrices({ [o.symbol]: 100 });
  const late = await run(orders(live()).placeOrder, o);
  expect(late.state).toBe('CANCELED');
  expect(await live().getOrderByClientId(o.clientOrderId)).toBeNull();
});

test('every attempt refused by the connection: CANCELED without asking the broker (it cannot be asked either)', async () => {
  const o = order(uniqueSymbol('UNS'));
  for (let i = 0; i < 3; i++) await expect(run(orders(dead).placeOrder, o)).rejects.toMatchObject({ type: 'OrderOutcomeUnknown' });
  const row = (await getLedgerOrder(pool, o.clientOrderId))!;
  expect(row).toMatchObject({ state: 'INTENT', submitAttempts: 3, unsentAttempts: 3 });
  expect(row.lastError).toMatch(/ECONNREFUSED/);
  const resolved = await run(resolution(dead).resolveOrder, { order: o, reason: 'deployment paused by tom' });
  expect(resolved.state).toBe('CANCELED');
  expect((await getLedgerOrder(pool, o.clientOrderId))!.rejectReason).toMatch(/^deployment paused by tom: never sent \(last error: .*ECONNREFUSED/);
});

test('possibly sent (a 5xx answer), not at the broker: looked up, and CANCELED only once lookups have had time to settle', async () => {
  const o = order(uniqueSymbol('MAY'));
  await admin.setPrices({ [o.symbol]: 100 });
  await admin.setFaults({ seed: 1, http5xx: 1 });
  await expect(run(orders(live()).placeOrder, o)).rejects.toMatchObject({ type: 'OrderOutcomeUnknown' });
  expect(await getLedgerOrder(pool, o.clientOrderId)).toMatchObject({ state: 'UNKNOWN', submitAttempts: 1, unsentAttempts: 0 });
  const resolve = resolution(live(), 1_500).resolveOrder;
  await expect(run(resolve, { order: o, reason: 'deployment stopped by tom' })).rejects.toMatchObject({ type: 'OrderUnresolved' });
  // The broker cannot be asked at all: still not abandoned (retried by Temporal, shown as a blocker).
  await expect(run(resolution(dead, 0).resolveOrder, { order: o, reason: 'deployment stopped by tom' })).rejects.toMatchObject({ type: 'OrderUnresolved' });
  expect((await getLedgerOrder(pool, o.clientOrderId))!.state).toBe('UNKNOWN');
  await new Promise((r) => setTimeout(r, 1_600));
  const resolved = await run(resolve, { order: o, reason: 'deployment stopped by tom' });
  expect(resolved.state).toBe('CANCELED');
  expect(resolved.rejectReason).toBe('deployment stopped by tom: not at the broker (looked up by client order id)');
});

test('executed at the broker with the answer lost: the lookup finds it and the ledger says so', async () => {
  const o = order(uniqueSymbol('EXE'));
  await admin.setPrices({ [o.symbol]: 100 });
  await admin.setFaults({ seed: 2, executeThenTimeout: 1, timeoutMs: 3_000 });
  await expect(run(orders(live()).placeOrder, o)).rejects.toMatchObject({ type: 'OrderOutcomeUnknown' });
  const resolved = await run(resolution(live()).resolveOrder, { order: o, reason: 'deployment stopped by tom' });
  expect(['ACCEPTED', 'FILLED']).toContain(resolved.state);
  expect(resolved.brokerOrderId).not.toBeNull();
});

test('a submission in flight holds the row: the resolution waits for the broker answer and records it, never CANCELED under it', async () => {
  const o = order(uniqueSymbol('RACE'));
  await admin.setPrices({ [o.symbol]: 100 });
  await admin.setFaults({ seed: 3, submitLatencyMs: 1_500 });
  const placing = run(orders(live()).placeOrder, o);
  // The attempt has marked SUBMITTING and is at the broker (for 1.5 s) when the stop comes.
  for (let i = 0; i < 50 && (await getLedgerOrder(pool, o.clientOrderId))?.state !== 'SUBMITTING'; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  const resolved = await run(resolution(live()).resolveOrder, { order: o, reason: 'deployment stopped by tom' });
  expect(Date.now() - t0).toBeGreaterThan(500); // it waited for the submission's answer
  const placed = await placing;
  expect(['ACCEPTED', 'FILLED']).toContain(placed.state);
  expect(['ACCEPTED', 'FILLED']).toContain(resolved.state);
  expect(await live().getOrderByClientId(o.clientOrderId)).not.toBeNull();
});

test('resolveDeploymentOrders settles every order of a deployment that was still in doubt', async () => {
  const a = order(uniqueSymbol('ALL'));
  const b = { ...order(a.symbol), deploymentId: a.deploymentId, workflowId: a.workflowId, cycle: 2, clientOrderId: clientOrderId(a.workflowId, 2, 0, 1) };
  await expect(run(orders(dead).placeOrder, a)).rejects.toBeDefined();
  await expect(run(orders(dead).placeOrder, b)).rejects.toBeDefined();
  const out = await run(resolution(dead).resolveDeploymentOrders, { deploymentId: a.deploymentId, reason: 'deployment stopped' });
  expect(out.resolved.map((r) => r.state)).toEqual(['CANCELED', 'CANCELED']);
});
