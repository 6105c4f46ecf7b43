import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { paperBrokerPort } from '../../brokers';
import type { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import type { PaperBrokerProcess } from '../../brokers/paper/start';
import { createOrderActivities, type CrashPoint, type PlaceOrderInput } from '../../activities/orders';
import { setHalt } from '../../db/sql/trading-halts';
import { clientOrderId } from '../../domain/ids';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

/**
 * The exactly-once order protocol at the activity level, against real Postgres and the real paper broker
 * process. A "retry" here is what Temporal does after a failed attempt: the same activity, same input, again.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
const account = `acct-${randomUUID().slice(0, 8)}`;

usePaperProcess(account, (p) => {
  ({ pool, paper, admin } = p);
});

beforeEach(async () => {
  await admin.reset(1e9);
  // The reset broker starts its fill ids afresh, so the stored cursor into its old fills must go too.
  await pool.query('DELETE FROM fill_cursors WHERE account_id = $1', [account]);
  await pool.query('DELETE FROM account_syncs WHERE account_id = $1', [account]);
});

/** MockActivityEnvironment.run with the activity's own result type. */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, ...args) as Promise<R>;
}

function activities(opts: { timeoutMs?: number; crash?: (p: CrashPoint) => void; accountSyncEveryMs?: number } = {}) {
  return createOrderActivities({
    db: pool, brokers: { paper: paperBrokerPort(paper.url, { timeoutMs: opts.timeoutMs ?? 5_000 }) }, crashPoint: opts.crash, accountSyncEveryMs: opts.accountSyncEveryMs,
  });
}

function order(deploymentId: string, cycle: number, symbol: string, side: 'buy' | 'sell' = 'buy', qty = 1): PlaceOrderInput {
  return {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, cycle, 0, 1),
    deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1, broker: 'paper', accountId: account,
    symbol, side, qty, orderType: 'market', timeInForce: 'day',
  };
}

/** Runs an activity like Temporal would: retry on a retryable failure, up to `attempts` times. */
async function withRetries<T>(fn: () => Promise<T>, attempts = 5): Promise<{ value: T; attempts: number }> {
  for (let i = 1; ; i++) {
    try {
      return { value: await fn(), attempts: i };
    } catch (err) {
      if (i >= attempts || (err as { nonRetryable?: boolean }).nonRetryable) throw err;
    }
  }
}

async function ordersAtBroker(clientIds: string[]): Promise<number> {
  const broker = paperBrokerPort(paper.url);
  let n = 0;
  for (const id of clientIds) if (await broker.getOrderByClientId(id)) n++;
  return n;
}

test('an order goes ledger INTENT -> broker -> ACCEPTED/FILLED; its fill is stored once however often it is synced', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('PO');
  await admin.setPrices({ [symbol]: 100 });
  const acts = activities();
  const placed = await run(acts.placeOrder, order(deploymentId, 1, symbol));
  expect(['ACCEPTED', 'FILLED']).toContain(placed.state);
  expect(placed.brokerOrderId).toBeTruthy();

  const first = await run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });
  const again = await run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });
  expect(first.newFills).toBe(1);
  expect(again.newFills).toBe(0);
  expect(again.positions).toEqual([{ symbol, qty: 1, cashFlow: -100 }]);
  const { rows } = await pool.query('SELECT state, filled_qty FROM order_ledger WHERE client_order_id = $1', [placed.clientOrderId]);
  expect(rows[0]).toEqual({ state: 'FILLED', filled_qty: 1 });

  // A repeated activity run (a retry after a lost completion) returns the same order and sends nothing.
  const before = (await admin.stats()).orders;
  expect(await run(acts.placeOrder, order(deploymentId, 1, symbol))).toMatchObject({ clientOrderId: placed.clientOrderId, brokerOrderId: placed.brokerOrderId });
  expect((await admin.stats()).orders).toBe(before);
});

test('R5: execute-then-timeout on every first attempt: every order is resolved by lookup, none is sent twice', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('R5');
  await admin.setPrices({ [symbol]: 50 });
  await admin.setFaults({ seed: 5, executeThenTimeout: 1, timeoutMs: 1_500 });
  const acts = activities({ timeoutMs: 300 });
  const ids: string[] = [];
  let resolvedByLookup = 0;
  // 12 orders: each takes the same path (probability 1), and each waits out its 300 ms timeout; with the 1.5 s holds,
  // several held answers still overlap. (It was 40: 13 s of the same path again.)
  const ORDERS = 12;
  for (let cycle = 1; cycle <= ORDERS; cycle++) {
    const input = order(deploymentId, cycle, symbol);
    ids.push(input.clientOrderId);
    const { value, attempts } = await withRetries(() => run(acts.placeOrder, input));
    expect(['ACCEPTED', 'FILLED', 'PARTIAL']).toContain(value.state);
    if (attempts === 2) resolvedByLookup++;
  }
  await admin.clearFaults();
  expect(resolvedByLookup).toBe(ORDERS);
  expect(await ordersAtBroker(ids)).toBe(ORDERS);
  expect((await admin.stats()).orders).toBe(ORDERS);
  const { rows } = await pool.query('SELECT count(*)::int AS n, max(submit_attempts) AS most FROM order_ledger WHERE deployment_id = $1', [deploymentId]);
  expect(rows[0]).toEqual({ n: ORDERS, most: 1 }); // one send each: the retry looked the order up instead
});

test('R6: 30% 5xx, 10% 429, 5% rejects over 200 orders: one broker order per client id, rejects final after one attempt', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('R6');
  await admin.setPrices({ [symbol]: 10 });
  await admin.setFaults({ seed: 6, http5xx: 0.3, http429: 0.1, reject: 0.05, retryAfterMs: 0 });
  const acts = activities();
  const ids: string[] = [];
  let rejected = 0;
  let maxAttempts = 0;
  for (let cycle = 1; cycle <= 200; cycle++) {
    const input = order(deploymentId, cycle, symbol);
    ids.push(input.clientOrderId);
    const { value, attempts } = await withRetries(() => run(acts.placeOrder, input), 20);
    if (value.state === 'REJECTED') {
      rejected++;
      expect(value.rejectReason).toBeTruthy(); // returned, not thrown: a rejected order is never tried again
    }
    maxAttempts = Math.max(maxAttempts, attempts);
  }
  await admin.clearFaults();
  const atBroker = await ordersAtBroker(ids);
  expect(atBroker + rejected).toBe(200);
  expect((await admin.stats()).orders).toBe(atBroker); // no order without a ledger row, none twice
  expect(rejected).toBeGreaterThan(0);
  expect(maxAttempts).toBeGreaterThan(1); // the storm did force retries
  const { rows } = await pool.query(`SELECT count(*) FILTER (WHERE state = 'REJECTED')::int AS rejected FROM order_ledger WHERE deployment_id = $1`, [deploymentId]);
  expect(rows[0].rejected).toBe(rejected);
  console.log(`R6: 200 orders, ${atBroker} at the broker, ${rejected} rejected, most attempts for one order ${maxAttempts}, duplicates 0`);
});

test('the kill switch stops new exposure right before the broker call but lets exposure-reducing orders out', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('KS');
  await admin.setPrices({ [symbol]: 20 });
  const acts = activities();
  await run(acts.placeOrder, order(deploymentId, 1, symbol, 'buy', 2));
  await run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });

  await setHalt(pool, 'deployment', deploymentId, true, 'test', 'ada');
  try {
    const before = (await admin.stats()).orders;
    const blocked = await run(acts.placeOrder, order(deploymentId, 2, symbol, 'buy', 1));
    expect(blocked).toMatchObject({ state: 'REJECTED', rejectReason: expect.stringMatching(/^kill switch \(deployment\) is on \(buy 1 KS\w+ would not reduce the deployment's position \(2 after the orders in flight\)\)$/) });
    expect((await admin.stats()).orders).toBe(before);
    const reducing = await run(acts.placeOrder, order(deploymentId, 3, symbol, 'sell', 2));
    expect(['ACCEPTED', 'FILLED']).toContain(reducing.state);
  } finally {
    await setHalt(pool, 'deployment', deploymentId, false, 'test over', 'ada');
  }
});

test('R13: a kill switch turned on while a submission is in flight commits only after the broker answered', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('GT');
  await admin.setPrices({ [symbol]: 40 });
  // The broker executes, then holds its answer past the adapter's 800 ms timeout: a submission in flight for ~0.8 s.
  await admin.setFaults({ seed: 13, executeThenTimeout: 1, timeoutMs: 3_000 });
  const acts = activities({ timeoutMs: 800 });
  const t0 = Date.now();
  const inFlight = run(acts.placeOrder, order(deploymentId, 1, symbol)).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 200));
  await setHalt(pool, 'deployment', deploymentId, true, 'test', 'ada');
  const haltCommittedAfterMs = Date.now() - t0;
  try {
    expect(await inFlight).toMatchObject({ type: 'OrderOutcomeUnknown' }); // the in-flight send timed out (executed)
    expect(haltCommittedAfterMs).toBeGreaterThanOrEqual(750); // the halt waited for the send in flight
    await admin.clearFaults();
    const sendsBefore = (await admin.stats()).orders;
    // The retry of the in-flight order finds it by lookup; a new buy is refused without reaching the broker.
    expect(['ACCEPTED', 'FILLED']).toContain((await run(acts.placeOrder, order(deploymentId, 1, symbol))).state);
    expect(await run(acts.placeOrder, order(deploymentId, 2, symbol))).toMatchObject({ state: 'REJECTED' });
    expect((await admin.stats()).orders).toBe(sendsBefore);
  } finally {
    await setHalt(pool, 'deployment', deploymentId, false, 'test over', 'ada');
  }
});

test.each<CrashPoint>(['before_ledger_insert', 'after_ledger_insert', 'after_broker_send', 'after_ledger_update'])(
  'an attempt that dies at %s is completed by the retry with exactly one broker order',
  async (point) => {
    const deploymentId = randomUUID();
    const symbol = uniqueSymbol('CR');
    await admin.setPrices({ [symbol]: 30 });
    let armed = true;
    const crashing = activities({
      crash: (p) => {
        if (armed && p === point) {
          armed = false;
          throw new Error(`worker died at ${p}`);
        }
      },
    });
      const input = order(deploymentId, 1, symbol);
    const { value, attempts } = await withRetries(() => run(crashing.placeOrder, input));
    expect(attempts).toBe(2);
    expect(['ACCEPTED', 'FILLED']).toContain(value.state);
    expect(await ordersAtBroker([input.clientOrderId])).toBe(1);
    expect((await admin.stats()).orders).toBe(1);
  },
);

test('the same client order id for a different order is refused, not sent', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('IM');
  await admin.setPrices({ [symbol]: 5 });
  const acts = activities();
  const input = order(deploymentId, 1, symbol);
  await run(acts.placeOrder, input);
  await expect(run(acts.placeOrder, { ...input, qty: 3 })).rejects.toMatchObject({ type: 'IntentMismatch', nonRetryable: true });
});

test('deployments of one account share the account listing, except one whose own fill is missing: it lists at once', async () => {
  const acts = activities({ accountSyncEveryMs: 1_500 });
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  const symbol = uniqueSymbol('AS');
  await admin.setPrices({ [symbol]: 100 });
  const sync = (deploymentId: string) => run(acts.syncOrders, { deploymentId, broker: 'paper', accountId: account });
  // A's limit buy rests below the market.
  const resting = await run(acts.placeOrder, { ...order(a, 1, symbol), orderType: 'limit', limitPrice: 90, timeInForce: 'gtc' });
  expect(resting.state).toBe('ACCEPTED');
  // B lists the account (claims the interval); then the market trades through A's limit.
  await sync(b);
  expect((await admin.setPrices({ [symbol]: 89 })).fills).toBe(1);
  // Within the interval A's own order turns out filled, so A reads the account's fills itself before deciding.
  const synced = await sync(a);
  expect(synced.positions).toEqual([{ symbol, qty: 1, cashFlow: -89 }]); // filled at the market that traded through the limit
  expect(synced.newFills).toBe(1);

  // An order placed at the broker by hand: C (no orders of its own) does not list the account within B's interval ...
  const manual = await paperBrokerPort(paper.url).submitOrder({ clientOrderId: `manual-${randomUUID().slice(0, 8)}`, symbol, side: 'buy', qty: 1, type: 'limit', limitPrice: 1, timeInForce: 'gtc' });
  expect(manual.kind).toBe('accepted');
  expect((await sync(c)).blockedBy).toEqual([]);
  // ... and finds it once the interval is over.
  await new Promise((r) => setTimeout(r, 1_600));
  const after = await sync(c);
  expect(after.blockedBy).toHaveLength(1);
  expect(after.blockedBy![0]).toContain(manual.kind === 'accepted' ? manual.order.id : '?');
  await pool.query(`UPDATE broker_discrepancies SET resolved_at = now(), resolved_by = 'test', resolution = 'test' WHERE account_id = $1 AND resolved_at IS NULL`, [account]);
});
