/**
 * The port's liquidation calls through the Alpaca adapter against the paper broker process: getPosition,
 * closePosition (tagged with the caller's client order id on the paper broker, refused locally in Alpaca mode),
 * its exactly-once classification under injected faults, closeAllPositions, cancelAllOrders, getClock and
 * getCalendar; and the same calls through the shared broker guard.
 */
import { paperBrokerPort } from '../../brokers';
import { guardBroker, guardKeyFor } from '../../brokers/guard';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import type { AlpacaBroker } from '../../brokers/alpaca/adapter';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { testConfig, testStack } from '../helpers/stack';
import { adapterFor, clientId, marketBuy, marketSell, sleep, uniqueAccount } from './helpers';

let proc: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
/** the paper broker's port: closing orders carry the caller's client order id */
let paper: AlpacaBroker;
/** the adapter as it talks to Alpaca: the broker names closing orders */
let alpacaMode: AlpacaBroker;

beforeAll(async () => {
  proc = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('liq') });
  admin = new PaperBrokerAdmin(proc.url);
  paper = paperBrokerPort(proc.url, { timeoutMs: 300 });
  alpacaMode = adapterFor(proc.url);
});

afterAll(async () => {
  await proc?.stop();
});

beforeEach(async () => {
  await admin.reset(100_000);
  await admin.setPrices({ AAPL: 150, MSFT: 400 });
});

test('getPosition: signed qty, qty available, current price; null when none', async () => {
  await paper.submitOrder(marketBuy('AAPL', 10));
  await paper.submitOrder(marketSell('MSFT', 3));
  await paper.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'sell', qty: 4, type: 'limit', limitPrice: 999, timeInForce: 'gtc' });
  expect(await paper.getPosition('AAPL')).toEqual({ symbol: 'AAPL', qty: 10, avgEntryPrice: 150, qtyAvailable: 6, currentPrice: 150 });
  expect(await paper.getPosition('MSFT')).toEqual({ symbol: 'MSFT', qty: -3, avgEntryPrice: 400, qtyAvailable: -3, currentPrice: 400 });
  expect(await paper.getPosition('SPY')).toBeNull();
});

test('closePosition on the paper broker: the closing order carries the ledger-written client id; refusals are rejections', async () => {
  await paper.submitOrder(marketBuy('AAPL', 10));
  const cid = clientId();
  const closed = await paper.closePosition({ symbol: 'AAPL', qty: 4, clientOrderId: cid });
  expect(closed).toMatchObject({ kind: 'accepted', order: { clientOrderId: cid, side: 'sell', qty: 4, status: 'filled', type: 'market' } });
  expect(await paper.getOrderByClientId(cid)).toMatchObject({ side: 'sell', qty: 4 });
  // The same id again: Alpaca's duplicate answer, unknown, resolved by lookup; no second order.
  expect(await paper.closePosition({ symbol: 'AAPL', qty: 4, clientOrderId: cid })).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/duplicate client_order_id/) });
  expect((await paper.getPosition('AAPL'))?.qty).toBe(6);

  expect(await paper.closePosition({ symbol: 'AAPL', qty: 7 })).toEqual({ kind: 'rejected', status: 403, reason: 'insufficient qty available for order (requested: 7, available: 6)' });
  expect(await paper.closePosition({ symbol: 'MSFT' })).toEqual({ kind: 'rejected', status: 404, reason: 'position does not exist' });
  expect(await paper.closePosition({ symbol: 'AAPL', percentage: 50 })).toMatchObject({ kind: 'accepted', order: { qty: 3 } });
  expect(await paper.closePosition({ symbol: 'AAPL', qty: 1, percentage: 5 })).toEqual({ kind: 'rejected', reason: 'qty and percentage cannot be used together' });
  expect(await paper.closePosition({ symbol: 'AAPL' })).toMatchObject({ kind: 'accepted', order: { qty: 3, status: 'filled' } });
  expect(await paper.listPositions()).toEqual([]);
});

test('in Alpaca mode a client id cannot be attached (refused without a call); without one Alpaca names the order', async () => {
  await alpacaMode.submitOrder(marketBuy('AAPL', 2));
  const before = (await admin.stats()).submitRequests;
  expect(await alpacaMode.closePosition({ symbol: 'AAPL', clientOrderId: clientId() })).toEqual({
    kind: 'rejected',
    reason: 'this broker names closing orders itself: close through the ledger with a market order instead',
  });
  expect((await admin.stats()).submitRequests).toBe(before);
  const closed = await alpacaMode.closePosition({ symbol: 'AAPL' });
  expect(closed).toMatchObject({ kind: 'accepted', order: { side: 'sell', qty: 2 } });
  expect(closed.kind === 'accepted' && closed.order.clientOrderId).toMatch(/^[0-9a-f-]{36}$/);
  expect(alpacaMode.closeWithClientOrderId).toBe(false);
  expect(paper.closeWithClientOrderId).toBe(true);
});

test('a close whose answer is lost (executed, then timed out) is unknown and found by its client id: exactly one closing order', async () => {
  await paper.submitOrder(marketBuy('AAPL', 5));
  await admin.setFaults({ seed: 3, executeThenTimeout: 1, timeoutMs: 900 });
  const cid = clientId();
  const outcome = await paper.closePosition({ symbol: 'AAPL', clientOrderId: cid });
  expect(outcome).toEqual({ kind: 'unknown', reason: expect.stringMatching(/no answer within 300 ms/) });
  await admin.clearFaults();
  expect(await paper.getOrderByClientId(cid)).toMatchObject({ side: 'sell', qty: 5, status: 'filled' });
  // A retry that resubmits the same close cannot close twice.
  expect((await paper.closePosition({ symbol: 'AAPL', clientOrderId: cid })).kind).toBe('rejected'); // no position left: 404
  expect((await admin.stats()).orders).toBe(2);
  await sleep(900);
  expect(await paper.listPositions()).toEqual([]);
});

test('injected 5xx and 429 on a close are unknown and created nothing', async () => {
  await paper.submitOrder(marketBuy('AAPL', 5));
  await admin.setFaults({ seed: 1, http5xx: 1 });
  const cid = clientId();
  expect(await paper.closePosition({ symbol: 'AAPL', clientOrderId: cid })).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/HTTP 50[03]/) });
  await admin.setFaults({ seed: 1, http429: 1, retryAfterMs: 1_000 });
  expect(await paper.closePosition({ symbol: 'AAPL', clientOrderId: cid })).toMatchObject({ kind: 'unknown', retryAfterMs: 1_000 });
  await admin.clearFaults();
  expect(await paper.getOrderByClientId(cid)).toBeNull();
  expect((await paper.getPosition('AAPL'))?.qty).toBe(5);
});

test('cancelAllOrders and closeAllPositions: per-order and per-symbol results', async () => {
  await paper.submitOrder(marketBuy('AAPL', 10));
  await paper.submitOrder(marketSell('MSFT', 2));
  const resting = await paper.submitOrder({ clientOrderId: clientId(), symbol: 'AAPL', side: 'sell', qty: 10, type: 'limit', limitPrice: 999, timeInForce: 'gtc' });
  if (resting.kind !== 'accepted') throw new Error('not accepted');

  const held = await paper.closeAllPositions({ cancelOrders: false });
  expect(held.map((r) => [r.symbol, r.status, r.order?.side ?? r.message])).toEqual([
    ['AAPL', 403, 'insufficient qty available for order (requested: 10, available: 0)'],
    ['MSFT', 200, 'buy'],
  ]);
  expect(await paper.cancelAllOrders()).toEqual([{ orderId: resting.order.id, status: 200, order: expect.objectContaining({ id: resting.order.id, status: 'canceled' }) }]);
  expect(await paper.cancelAllOrders()).toEqual([]);
  const all = await paper.closeAllPositions({ cancelOrders: true });
  expect(all.map((r) => [r.symbol, r.status, r.order?.status])).toEqual([['AAPL', 200, 'filled']]);
  expect(await paper.listPositions()).toEqual([]);
});

test('getClock and getCalendar: epoch ms from Alpaca\'s New York times', async () => {
  await admin.setClock({ time: '2026-11-27T17:55:00Z' });
  expect(await paper.getClock()).toEqual({
    timestampMs: Date.parse('2026-11-27T17:55:00Z'),
    isOpen: true,
    nextOpenMs: Date.parse('2026-11-30T14:30:00Z'),
    nextCloseMs: Date.parse('2026-11-27T18:00:00Z'),
  });
  const days = await paper.getCalendar({ start: '2026-11-25', end: '2026-11-30' });
  expect(days).toEqual([
    { date: '2026-11-25', openMs: Date.parse('2026-11-25T14:30:00Z'), closeMs: Date.parse('2026-11-25T21:00:00Z'), settlementDate: '2026-11-27' },
    { date: '2026-11-27', openMs: Date.parse('2026-11-27T14:30:00Z'), closeMs: Date.parse('2026-11-27T18:00:00Z'), settlementDate: '2026-11-30' },
    { date: '2026-11-30', openMs: Date.parse('2026-11-30T14:30:00Z'), closeMs: Date.parse('2026-11-30T21:00:00Z'), settlementDate: '2026-12-01' },
  ]);
  expect(await paper.getCalendar({ start: '2026-12-25', end: '2026-12-27' })).toEqual([]);
});

test("prices of a replay outside the calendar's years (1990s bars) still fill; the clock there is a 422, not a crash", async () => {
  expect((await admin.setPrices({ AAPL: 20 }, { asOf: '1995-03-01T15:00:00Z' })).clock).toBe('1995-03-01T15:00:00.000Z');
  expect(await paper.submitOrder(marketBuy('AAPL', 2))).toMatchObject({ kind: 'accepted', order: { filledAvgPrice: 20 } });
  await admin.setPrices({ AAPL: 21 }, { asOf: '1995-03-02T15:00:00Z' });
  expect(await paper.getPosition('AAPL')).toMatchObject({ qty: 2, currentPrice: 21 });
  await expect(paper.getClock()).rejects.toMatchObject({ name: 'BrokerRequestError', status: 422, message: expect.stringMatching(/is outside the calendar/) });
});

test('the broker guard passes every liquidation call through and keeps the close classification', async () => {
  const redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
  try {
    const guarded = guardBroker(paper, { key: guardKeyFor('paper', `liq-${clientId().slice(0, 8)}`), redis, logger: createLogger('silent') });
    await guarded.submitOrder(marketBuy('AAPL', 3));
    expect(guarded.closeWithClientOrderId).toBe(true);
    expect(await guarded.getPosition('AAPL')).toMatchObject({ qty: 3 });
    expect(await guarded.closePosition({ symbol: 'MSFT' })).toMatchObject({ kind: 'rejected', status: 404 });
    expect((await guarded.closePosition({ symbol: 'AAPL', qty: 1, clientOrderId: clientId() })).kind).toBe('accepted');
    expect(await guarded.cancelAllOrders()).toEqual([]);
    expect((await guarded.closeAllPositions({ cancelOrders: true })).map((r) => r.status)).toEqual([200]);
    expect((await guarded.getClock()).timestampMs).toBeGreaterThan(0);
    expect(await guarded.getCalendar({ start: '2026-11-27', end: '2026-11-27' })).toHaveLength(1);
  } finally {
    redis.disconnect();
  }
});
