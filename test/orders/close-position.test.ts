/**
 * Closing positions and the ledger, on real Postgres and the paper broker process. A close routed through the
 * ledger (placeOrder with route 'close_position': DELETE /v2/positions/{symbol} tagged with the ledger's client
 * order id) is exactly-once like any order and reconciles cleanly; a close made at the broker with a broker-named
 * client id is an order the ledger never wrote, and reconciliation flags it.
 */
import { randomUUID } from 'node:crypto';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { paperBrokerPort } from '../../brokers';
import { AlpacaBroker } from '../../brokers/alpaca/adapter';
import type { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import type { PaperBrokerProcess } from '../../brokers/paper/start';
import { createOrderActivities, type PlaceOrderInput } from '../../activities/orders';
import { clientOrderId } from '../../domain/ids';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
const account = `acct-${randomUUID().slice(0, 8)}`;

usePaperProcess(account, (p) => {
  ({ pool, paper, admin } = p);
});

beforeEach(async () => {
  await admin.reset(1e9);
  await admin.configure({ partialFillSlices: 1 });
  await pool.query('DELETE FROM fill_cursors WHERE account_id = $1', [account]);
  await pool.query('DELETE FROM account_syncs WHERE account_id = $1', [account]);
  await pool.query("UPDATE broker_discrepancies SET resolved_at = now(), resolved_by = 'test', resolution = 'test reset' WHERE account_id = $1 AND resolved_at IS NULL", [account]);
});

function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(fn, ...args) as Promise<R>;
}

function activities(timeoutMs = 5_000, broker = paperBrokerPort(paper.url, { timeoutMs })) {
  return createOrderActivities({ db: pool, brokers: { paper: broker }, accountSyncEveryMs: 0 });
}

function order(deploymentId: string, cycle: number, symbol: string, side: 'buy' | 'sell', qty: number, route?: 'close_position'): PlaceOrderInput {
  return {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, cycle, 0, 1),
    deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1, broker: 'paper', accountId: account,
    symbol, side, qty, orderType: 'market', timeInForce: 'day', ...(route ? { route } : {}),
  };
}

async function withRetries<T>(fn: () => Promise<T>, attempts = 5): Promise<{ value: T; attempts: number }> {
  for (let i = 1; ; i++) {
    try {
      return { value: await fn(), attempts: i };
    } catch (err) {
      if (i >= attempts || (err as { nonRetryable?: boolean }).nonRetryable) throw err;
    }
  }
}

async function openFindings(): Promise<Array<{ kind: string; client_order_id: string }>> {
  const { rows } = await pool.query('SELECT kind, client_order_id FROM broker_discrepancies WHERE account_id = $1 AND resolved_at IS NULL ORDER BY kind', [account]);
  return rows;
}

test('a close routed through the ledger: tagged with the ledger id, its fills stored for the deployment, no finding', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('CLS');
  await admin.setPrices({ [symbol]: 10 });
  const acts = activities();
  await run(acts.placeOrder, order(deploymentId, 1, symbol, 'buy', 6));
  await admin.configure({ partialFillSlices: 2 }); // the close stays open after its first slice: reconciliation sees an open order
  const close = order(deploymentId, 2, symbol, 'sell', 6, 'close_position');
  const placed = await run(acts.placeOrder, close);
  expect(placed).toMatchObject({ clientOrderId: close.clientOrderId, state: 'PARTIAL' });
  const atBroker = await paperBrokerPort(paper.url).getOrderByClientId(close.clientOrderId);
  expect(atBroker).toMatchObject({ id: placed.brokerOrderId, side: 'sell', qty: 6, filledQty: 3 });

  const sync = await run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });
  expect(sync).toMatchObject({ unknownFills: 0, blockedBy: [] });
  await admin.tick();
  const done = await run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });
  expect(done.positions).toEqual([{ symbol, qty: 0, cashFlow: 0 }]);
  expect(await openFindings()).toEqual([]);
  const { rows } = await pool.query('SELECT state, filled_qty FROM order_ledger WHERE client_order_id = $1', [close.clientOrderId]);
  expect(rows[0]).toEqual({ state: 'FILLED', filled_qty: 6 });
});

test('a close made at the broker under a broker-named client id is an unknown order and fill: it blocks the account', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('CLX');
  await admin.setPrices({ [symbol]: 10 });
  const acts = activities();
  await run(acts.placeOrder, order(deploymentId, 1, symbol, 'buy', 4));
  await admin.configure({ partialFillSlices: 2 });
  const byHand = await paperBrokerPort(paper.url).closePosition({ symbol });
  if (byHand.kind !== 'accepted') throw new Error(`close failed: ${JSON.stringify(byHand)}`);
  const sync = await run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });
  expect(sync.unknownFills).toBe(1);
  expect(sync.blockedBy).toHaveLength(2);
  expect(await openFindings()).toEqual([
    { kind: 'unknown_fill', client_order_id: byHand.order.clientOrderId },
    { kind: 'unknown_order', client_order_id: byHand.order.clientOrderId },
  ]);
});

test("a close whose answer is lost is resolved by lookup on the retry: one closing order, the ledger's", async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('CLR');
  await admin.setPrices({ [symbol]: 10 });
  await run(activities().placeOrder, order(deploymentId, 1, symbol, 'buy', 5));
  await admin.setFaults({ seed: 11, executeThenTimeout: 1, timeoutMs: 1_200 });
  const acts = activities(300);
  const close = order(deploymentId, 2, symbol, 'sell', 5, 'close_position');
  const { value, attempts } = await withRetries(() => run(acts.placeOrder, close));
  await admin.clearFaults();
  expect(attempts).toBe(2);
  expect(value).toMatchObject({ state: 'FILLED' });
  expect((await admin.stats()).orders).toBe(2); // the buy and one close
  const { rows } = await pool.query('SELECT submit_attempts FROM order_ledger WHERE client_order_id = $1', [close.clientOrderId]);
  expect(rows[0]).toEqual({ submit_attempts: 1 });
});

test('refused unsent: a close on the wrong side of the broker position, on a broker that names closing orders, or as a limit order', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('CLW');
  await admin.setPrices({ [symbol]: 10 });
  const acts = activities();
  await run(acts.placeOrder, order(deploymentId, 1, symbol, 'buy', 2));
  const wrongSide = await run(acts.placeOrder, order(deploymentId, 2, symbol, 'buy', 2, 'close_position'));
  expect(wrongSide).toMatchObject({ state: 'REJECTED', rejectReason: `the broker's position in ${symbol} is 2: a close would not be a buy` });
  const nothing = await run(acts.placeOrder, order(deploymentId, 3, uniqueSymbol('CLN'), 'sell', 1, 'close_position'));
  expect(nothing).toMatchObject({ state: 'REJECTED', rejectReason: expect.stringMatching(/position in .* is 0/) });
  expect((await admin.stats()).submitRequests).toBe(1);

  const alpacaLike = activities(5_000, new AlpacaBroker({ name: 'paper', baseUrl: paper.url, credentials: () => ({ keyId: 'paper', secretKey: 'paper' }) }));
  await expect(run(alpacaLike.placeOrder, order(deploymentId, 4, symbol, 'sell', 2, 'close_position'))).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(/paper: no/) });
  await expect(run(acts.placeOrder, { ...order(deploymentId, 5, symbol, 'sell', 2, 'close_position'), orderType: 'limit', limitPrice: 9 })).rejects.toMatchObject({ nonRetryable: true });
  // The same client id cannot stand for an ordinary order and a close.
  const reused = order(deploymentId, 6, symbol, 'sell', 1);
  await run(acts.placeOrder, reused);
  await expect(run(acts.placeOrder, { ...reused, route: 'close_position' })).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(/already used by a different order/) });
});
