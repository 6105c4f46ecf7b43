/**
 * The paper broker's trading semantics, in process (createPaperBroker on a loopback port) with real
 * Postgres, driven through the Alpaca adapter: execution, partial fills, limits, buying power, cancel,
 * positions and equity, fill paging, concurrency, authentication and the loopback-only admin routes.
 */
import { type AlpacaBroker } from '../../brokers/alpaca/adapter';
import { paperBrokerPort } from '../../brokers/index';
import { BrokerRequestError, BrokerUnavailableError } from '../../brokers/port';
import { PaperBrokerAdmin, type PaperStats } from '../../brokers/paper/admin-client';
import { createPaperBroker, type PaperBrokerApp } from '../../brokers/paper/app';
import { waitFor } from '../helpers/processes';
import { testStack } from '../helpers/stack';
import { adapterFor, clientId, marketBuy, marketSell, sleep, uniqueAccount } from './helpers';

let app: PaperBrokerApp;
let url: string;
let broker: AlpacaBroker;
let admin: PaperBrokerAdmin;

beforeAll(async () => {
  app = createPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('paper'), initialCash: 100_000 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  broker = adapterFor(url);
  admin = new PaperBrokerAdmin(url);
});

afterAll(async () => {
  await app?.close();
});

beforeEach(async () => {
  await admin.reset(100_000);
  await admin.configure({ partialFillSlices: 1 });
});

describe('execution', () => {
  test('a market buy fills at the last price; cash, position, equity and the fill agree', async () => {
    await admin.setPrices({ AAPL: 190 });
    const outcome = await broker.submitOrder(marketBuy('AAPL', 10));
    expect(outcome).toMatchObject({ kind: 'accepted', order: { status: 'filled', filledQty: 10, filledAvgPrice: 190, qty: 10, symbol: 'AAPL', side: 'buy', type: 'market' } });
    await admin.setPrices({ AAPL: 200 });
    expect(await broker.listPositions()).toEqual([{ symbol: 'AAPL', qty: 10, avgEntryPrice: 190, qtyAvailable: 10, currentPrice: 200 }]);
    expect(await broker.getAccount()).toEqual({ cash: 98_100, equity: 100_100, buyingPower: 98_100 });
    const fills = await broker.listFills({});
    expect(fills).toHaveLength(1);
    expect(fills[0]).toMatchObject({ qty: 10, price: 190, side: 'buy', symbol: 'AAPL', clientOrderId: outcome.kind === 'accepted' ? outcome.order.clientOrderId : '' });
    expect(fills[0].id).toMatch(/^\d{17}::[0-9a-f-]{36}$/);
  });

  test('symbols are case-insensitive like Alpaca; no price means 422 "no price for symbol" and no order', async () => {
    await admin.setPrices({ msft: 400 });
    expect((await broker.submitOrder(marketBuy('MSFT', 1))).kind).toBe('accepted');
    const cid = clientId();
    expect(await broker.submitOrder(marketBuy('NOPE', 1, cid))).toMatchObject({ kind: 'rejected', status: 422, reason: 'no price for symbol NOPE' });
    expect(await broker.getOrderByClientId(cid)).toBeNull();
  });

  test('partial fills: 3 slices, one now and one per tick or price update, each a fill with its own id', async () => {
    await admin.configure({ partialFillSlices: 3 });
    await admin.setPrices({ AAPL: 100 });
    const cid = clientId();
    const first = await broker.submitOrder(marketBuy('AAPL', 10, cid));
    expect(first).toMatchObject({ kind: 'accepted', order: { status: 'partially_filled', filledQty: 4 } });
    await admin.tick();
    expect(await broker.getOrderByClientId(cid)).toMatchObject({ status: 'partially_filled', filledQty: 7 });
    await admin.setPrices({ AAPL: 110 });
    const done = await broker.getOrderByClientId(cid);
    expect(done).toMatchObject({ status: 'filled', filledQty: 10, filledAvgPrice: 103 });
    const fills = await broker.listFills({});
    expect(fills.map((f) => [f.qty, f.price])).toEqual([
      [4, 100],
      [3, 100],
      [3, 110],
    ]);
    expect(new Set(fills.map((f) => f.id)).size).toBe(3);
    expect(fills.every((f) => f.clientOrderId === cid && f.orderId === done!.id)).toBe(true);
    expect(await broker.listPositions()).toMatchObject([{ symbol: 'AAPL', qty: 10, avgEntryPrice: 103 }]);
    await admin.tick();
    expect(await broker.listFills({})).toHaveLength(3);
  });

  test('cancel ends the unfilled remainder; a filled order is not cancelable (422); an unknown id is 404', async () => {
    await admin.configure({ partialFillSlices: 2 });
    await admin.setPrices({ AAPL: 100 });
    const outcome = await broker.submitOrder(marketBuy('AAPL', 10));
    if (outcome.kind !== 'accepted') throw new Error(outcome.reason);
    await broker.cancelOrder(outcome.order.id);
    await admin.tick();
    expect(await broker.getOrderByClientId(outcome.order.clientOrderId)).toMatchObject({ status: 'canceled', filledQty: 5 });
    expect(await broker.listPositions()).toMatchObject([{ symbol: 'AAPL', qty: 5, avgEntryPrice: 100 }]);
    await expect(broker.cancelOrder(outcome.order.id)).rejects.toMatchObject({ name: 'BrokerRequestError', status: 422 });
    await expect(broker.cancelOrder('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 404 });
  });

  test('limit orders rest until a price update crosses the limit, then fill at that price', async () => {
    await admin.setPrices({ AAPL: 100 });
    const buy = await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'buy', qty: 2, type: 'limit', limitPrice: 95, timeInForce: 'gtc' });
    expect(buy).toMatchObject({ kind: 'accepted', order: { status: 'new', filledQty: 0, limitPrice: 95 } });
    await admin.setPrices({ AAPL: 96 });
    expect(await broker.listOrders({ status: 'open' })).toHaveLength(1);
    await admin.setPrices({ AAPL: 94.5 });
    expect(await broker.listOrders({ status: 'open' })).toHaveLength(0);
    expect((await broker.listOrders({ status: 'closed' }))[0]).toMatchObject({ status: 'filled', filledAvgPrice: 94.5 });
    // A marketable limit sell fills at once, at the price.
    const sell = await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'sell', qty: 2, type: 'limit', limitPrice: 90, timeInForce: 'day' });
    expect(sell).toMatchObject({ kind: 'accepted', order: { status: 'filled', filledAvgPrice: 94.5 } });
    expect(await broker.listPositions()).toEqual([]);
  });

  test('IOC cancels what the first attempt did not fill; end of day expires day orders only', async () => {
    await admin.setPrices({ AAPL: 100 });
    const ioc = await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 50, timeInForce: 'ioc' });
    expect(ioc).toMatchObject({ kind: 'accepted', order: { status: 'canceled', filledQty: 0 } });
    await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 50, timeInForce: 'day' });
    await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 50, timeInForce: 'gtc' });
    expect(await admin.endOfDay()).toEqual({ expired: 1 });
    const all = await broker.listOrders({ status: 'all' });
    expect(all.map((o) => o.status)).toEqual(['canceled', 'expired', 'new']);
  });

  test('buying power: buys beyond cash minus open buy orders are 403 rejected; sells go short', async () => {
    await admin.reset(1_000);
    await admin.setPrices({ AAPL: 100 });
    await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'buy', qty: 5, type: 'limit', limitPrice: 90, timeInForce: 'gtc' });
    expect(await broker.getAccount()).toEqual({ cash: 1_000, equity: 1_000, buyingPower: 550 });
    const cid = clientId();
    expect(await broker.submitOrder(marketBuy('AAPL', 6, cid))).toMatchObject({ kind: 'rejected', status: 403, reason: 'insufficient buying power' });
    expect(await broker.getOrderByClientId(cid)).toBeNull();
    expect((await broker.submitOrder(marketBuy('AAPL', 5))).kind).toBe('accepted');
    expect((await broker.submitOrder(marketSell('AAPL', 8))).kind).toBe('accepted');
    await admin.setPrices({ AAPL: 80 }); // the resting limit buy at 90 fills too, at the (better) price
    expect(await broker.listPositions()).toMatchObject([{ symbol: 'AAPL', qty: 2, avgEntryPrice: 80 }]);
    // cash: 1000 - 500 + 800 - 400 = 900; equity = 900 + 2 * 80
    expect(await broker.getAccount()).toEqual({ cash: 900, equity: 1_060, buyingPower: 900 });
  });

  test('a client order id is single-use, even after cancel: the second submit is unknown and lookup finds the first', async () => {
    await admin.setPrices({ AAPL: 100 });
    const cid = clientId();
    const first = await broker.submitOrder({ clientOrderId: cid, symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 10, timeInForce: 'gtc' });
    if (first.kind !== 'accepted') throw new Error('not accepted');
    await broker.cancelOrder(first.order.id);
    const again = await broker.submitOrder(marketBuy('AAPL', 3, cid));
    expect(again).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/duplicate client_order_id/) });
    expect(await broker.getOrderByClientId(cid)).toMatchObject({ id: first.order.id, status: 'canceled', qty: 1 });
    expect((await admin.stats()).duplicateClientOrderIds).toBe(1);
  });
});

describe('faults for R5 (the duplicate-id path) and R13 (submissions in flight)', () => {
  const keys = { 'apca-api-key-id': 'k', 'apca-api-secret-key': 's' };
  const post = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v2/orders', headers: keys, payload });

  test('a reused client_order_id gets Alpaca\'s documented answer: HTTP 422 {"code":40010001,"message":"client_order_id must be unique"}', async () => {
    await admin.setPrices({ AAPL: 100 });
    const body = { symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: clientId() };
    expect((await post(body)).statusCode).toBe(200);
    const again = await post({ ...body, qty: '2' });
    expect(again.statusCode).toBe(422);
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(again.json()).toEqual({ code: 40010001, message: 'client_order_id must be unique' });
    // The adapter reads exactly that body as "unknown: look it up", never as a rejection.
    expect(await broker.submitOrder(marketBuy('AAPL', 1, body.client_order_id))).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/duplicate client_order_id/) });
    expect((await admin.stats()).orders).toBe(1);
  });

  test('lagging lookups (seeded, off by default): a recent order is a 404 to a lookup by client id, then visible', async () => {
    await admin.setPrices({ AAPL: 100 });
    const cid = clientId();
    expect((await broker.submitOrder(marketBuy('AAPL', 1, cid))).kind).toBe('accepted');
    expect(await broker.getOrderByClientId(cid)).toMatchObject({ clientOrderId: cid }); // default: no lag

    await admin.setFaults({ seed: 11, laggingLookup: 1, lookupLagMs: 60_000 });
    expect(await broker.getOrderByClientId(cid)).toBeNull();
    // What a retry then does: resubmit, meet the 422, and stay unknown; no second order.
    expect(await broker.submitOrder(marketBuy('AAPL', 1, cid))).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/duplicate client_order_id/) });
    // Lookups by order id and lists are not lagging; an order older than the lag is visible again.
    expect((await broker.listOrders({ status: 'all' })).map((o) => o.clientOrderId)).toEqual([cid]);
    await admin.setFaults({ seed: 11, laggingLookup: 1, lookupLagMs: 0 });
    expect(await broker.getOrderByClientId(cid)).toMatchObject({ clientOrderId: cid });
    const stats = await admin.stats();
    expect([stats.orders, stats.duplicateClientOrderIds, stats.faults.laggingLookup]).toEqual([1, 1, 1]);
  });

  test('lagging lookups draw from their own stream: the same seed hides the same lookups, whatever the submissions do', async () => {
    await admin.setPrices({ AAPL: 100 });
    const cids = Array.from({ length: 12 }, () => clientId());
    for (const cid of cids) await broker.submitOrder(marketBuy('AAPL', 1, cid));
    const pattern = async (submitFaults: Record<string, number>) => {
      await admin.setFaults({ seed: 21, laggingLookup: 0.5, lookupLagMs: 60_000, ...submitFaults });
      const seen: boolean[] = [];
      for (const cid of cids) {
        seen.push((await broker.getOrderByClientId(cid)) !== null);
        await broker.submitOrder(marketBuy('AAPL', 1)); // submissions in between draw from the submit stream only
      }
      return seen;
    };
    const a = await pattern({});
    const b = await pattern({ http5xx: 0.5 });
    expect(b).toEqual(a);
    expect(a.filter(Boolean).length).toBeGreaterThan(0);
    expect(a.filter((x) => !x).length).toBeGreaterThan(0);
  });

  test('execute-then-timeout holds the answer of an execution only: the resubmitted id gets its 422 at once', async () => {
    await admin.setPrices({ AAPL: 100 });
    await admin.setFaults({ seed: 12, executeThenTimeout: 1, timeoutMs: 2_000 });
    const impatient = adapterFor(url, { timeoutMs: 1_000 });
    const cid = clientId();
    const t0 = Date.now();
    expect(await impatient.submitOrder(marketBuy('AAPL', 1, cid))).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/no answer within 1000 ms/) });
    // Answered (a 422 seen by the client) rather than held past the client's timeout.
    expect(await impatient.submitOrder(marketBuy('AAPL', 1, cid))).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/duplicate client_order_id/) });
    await sleep(Math.max(0, t0 + 2_300 - Date.now())); // the first answer's hold is over: the client had left
    const stats = await admin.stats();
    expect([stats.orders, stats.executedThenHeld, stats.heldAnswersLost, stats.heldAnswersDelivered, stats.faults.executeThenTimeout, stats.duplicateClientOrderIds]).toEqual([1, 1, 1, 0, 2, 1]);
  });

  test('a held answer is counted when its hold ends (delivered to a client that waited); the hold is the one drawn on arrival', async () => {
    await admin.setPrices({ AAPL: 100 });
    await admin.setFaults({ seed: 12, executeThenTimeout: 1, timeoutMs: 1_500, submitLatencyMs: 1_000 });
    const patient = adapterFor(url, { timeoutMs: 5_000 });
    const answer = patient.submitOrder(marketBuy('AAPL', 1));
    const stats = async (has: (s: PaperStats) => boolean) => {
      const s = await admin.stats();
      return has(s) ? s : undefined;
    };
    await waitFor('the submission to arrive', () => stats((s) => s.submitRequests === 1), 800);
    // Cleared before its hold began (as a chaos drain may): the default 10 s hold would outlast the client's 5 s.
    await admin.clearFaults();
    // Executed and still held: neither lost nor delivered yet (a check that reads the counts now must wait for the hold).
    expect(await waitFor('the order executed and held', () => stats((s) => s.executedThenHeld === 1), 1_400)).toMatchObject({ heldAnswersLost: 0, heldAnswersDelivered: 0 });
    expect(await answer).toMatchObject({ kind: 'accepted' });
    const after = await admin.stats();
    expect([after.orders, after.executedThenHeld, after.heldAnswersLost, after.heldAnswersDelivered]).toEqual([1, 1, 0, 1]);
  });

  test('submit latency holds every submission before it is handled; the order then executes normally', async () => {
    await admin.setPrices({ AAPL: 100 });
    await admin.setFaults({ seed: 13, submitLatencyMs: 400 });
    const t0 = Date.now();
    const outcomes = await Promise.all([broker.submitOrder(marketBuy('AAPL', 1)), broker.submitOrder(marketBuy('AAPL', 2))]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(outcomes.map((o) => o.kind)).toEqual(['accepted', 'accepted']);
    expect((await admin.stats()).faults).toMatchObject({ reject: 0, http5xx: 0, http429: 0, executeThenTimeout: 0 }); // latency is not a fault draw
  });
});

describe('lists', () => {
  test('fills page oldest first with a fill-id cursor, without gaps or repeats', async () => {
    await admin.configure({ partialFillSlices: 5 });
    await admin.setPrices({ AAPL: 100, MSFT: 300 });
    for (let i = 0; i < 3; i++) await broker.submitOrder(marketBuy(i % 2 ? 'MSFT' : 'AAPL', 5));
    for (let i = 0; i < 4; i++) await admin.tick();
    const all: string[] = [];
    let pageToken: string | undefined;
    for (;;) {
      const page = await broker.listFills({ pageToken, limit: 4 });
      if (page.length === 0) break;
      all.push(...page.map((f) => f.id));
      pageToken = page[page.length - 1].id;
    }
    expect(all).toHaveLength(15);
    expect(new Set(all).size).toBe(15);
    expect((await broker.listFills({ limit: 100 })).map((f) => f.id)).toEqual(all);
  });

  test('orders list by status, oldest first, after a time', async () => {
    await admin.setPrices({ AAPL: 100 });
    const a = await broker.submitOrder(marketBuy('AAPL'));
    await new Promise((r) => setTimeout(r, 5));
    await broker.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 1, timeInForce: 'gtc' });
    expect((await broker.listOrders({ status: 'open' })).map((o) => o.status)).toEqual(['new']);
    expect((await broker.listOrders({ status: 'closed' })).map((o) => o.status)).toEqual(['filled']);
    expect(await broker.listOrders({ status: 'all' })).toHaveLength(2);
    if (a.kind !== 'accepted') throw new Error('not accepted');
    expect(await broker.listOrders({ status: 'all', after: a.order.submittedAt })).toHaveLength(1);
    expect(await broker.listOrders({ status: 'all', limit: 1 })).toHaveLength(1);
  });
});

describe('concurrency', () => {
  test('30 concurrent submits of one client order id create exactly one order', async () => {
    await admin.setPrices({ AAPL: 100 });
    const cid = clientId();
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => broker.submitOrder(marketBuy('AAPL', 1, cid))));
    expect(outcomes.filter((o) => o.kind === 'accepted')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'unknown')).toHaveLength(29);
    expect((await admin.stats()).orders).toBe(1);
    expect(await broker.listPositions()).toMatchObject([{ symbol: 'AAPL', qty: 1, avgEntryPrice: 100 }]);
  });

  test('40 concurrent buys with cash for 10: exactly 10 fill and cash never goes negative', async () => {
    await admin.reset(1_000);
    await admin.setPrices({ AAPL: 100 });
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => broker.submitOrder(marketBuy('AAPL', 1))));
    expect(outcomes.filter((o) => o.kind === 'accepted')).toHaveLength(10);
    expect(outcomes.filter((o) => o.kind === 'rejected' && o.status === 403)).toHaveLength(30);
    expect(await broker.getAccount()).toEqual({ cash: 0, equity: 1_000, buyingPower: 0 });
  });
});

describe('access', () => {
  test('admin routes answer loopback clients only', async () => {
    const remote = await app.inject({ method: 'GET', url: '/admin/stats', remoteAddress: '10.1.2.3' });
    expect(remote.statusCode).toBe(404);
    const local = await app.inject({ method: 'GET', url: '/admin/stats', remoteAddress: '127.0.0.1' });
    expect(local.statusCode).toBe(200);
  });

  test('paperBrokerPort() is the adapter named "paper" with placeholder keys', async () => {
    const port = paperBrokerPort(url);
    expect(port.name).toBe('paper');
    expect(await port.getAccount()).toEqual({ cash: 100_000, equity: 100_000, buyingPower: 100_000 });
  });

  test('v2 routes need both key headers (401); Alpaca-shaped error bodies', async () => {
    const res = await app.inject({ method: 'GET', url: '/v2/account' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ code: 40110000, message: 'request is not authorized' });
    const bad = await app.inject({ method: 'POST', url: '/v2/orders', headers: { 'apca-api-key-id': 'k', 'apca-api-secret-key': 's' }, payload: { symbol: 'AAPL', side: 'buy', type: 'stop', time_in_force: 'day', qty: '1' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().message).toMatch(/market and limit/);
  });

  test('with a configured key pair: wrong keys are 403 "forbidden." and the adapter throws, never echoing keys', async () => {
    const locked = createPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('paper-auth'), auth: { keyId: 'RIGHTKEY', secret: 'right-secret-123' } });
    await locked.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = locked.server.address();
      const lockedUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const wrong = adapterFor(lockedUrl);
      const err = await wrong.getAccount().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrokerRequestError);
      expect(err).toMatchObject({ status: 403 });
      await expect(wrong.submitOrder(marketBuy('AAPL'))).rejects.toBeInstanceOf(BrokerRequestError);
      const right = adapterFor(lockedUrl, { credentials: () => ({ keyId: 'RIGHTKEY', secretKey: 'right-secret-123' }) });
      expect((await right.getAccount()).cash).toBe(100_000);
    } finally {
      await locked.close();
    }
  });

  test('read faults: seeded 5xx / 429 on GETs become BrokerUnavailableError', async () => {
    await admin.setFaults({ seed: 3, readFaults: { http5xx: 0.5, http429: 0.5, timeout: 0 }, retryAfterMs: 2_000 });
    const errors = await Promise.all(Array.from({ length: 10 }, () => broker.listPositions().catch((e: unknown) => e)));
    expect(errors.every((e) => e instanceof BrokerUnavailableError)).toBe(true);
    const limited = errors.filter((e) => (e as BrokerUnavailableError).status === 429) as BrokerUnavailableError[];
    expect(limited.every((e) => e.retryAfterMs === 2_000)).toBe(true);
    const stats = await admin.stats();
    expect(stats.faults.read5xx + stats.faults.read429).toBe(10);
    await admin.clearFaults();
    expect(await broker.listPositions()).toEqual([]);
  });
});
