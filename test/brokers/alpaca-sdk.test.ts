/**
 * Alpaca's official TypeScript SDK (@alpacahq/alpaca-trade-api 4) as the client of the paper broker process, the
 * way a user's existing code drives Alpaca: the `Alpaca` facade with its defaults (retries, rate limit), its
 * requests sent to the paper broker instead of Alpaca's paper host, with the broker's key pair. Orders, lookups by
 * client id, positions (checked against the SDK's own model enums and required fields), closing positions one
 * by one, by qty and percentage, and all at once, cancel-all, the market clock, and the calendar across an early
 * close and a holiday.
 */
import { Alpaca, ApiError, NotFoundError, trading, type AlpacaClientOptions } from '@alpacahq/alpaca-trade-api';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { testStack } from '../helpers/stack';
import { clientId, uniqueAccount } from './helpers';

const KEY_ID = 'PKPAPERSDKTEST000001';
const SECRET = 'paper-sdk-secret-0123456789abcdef';

let proc: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
let alpaca: Alpaca;

/** The SDK talks to Alpaca's paper host; this middleware sends its requests to the paper broker instead. */
function toPaperBroker(url: string): NonNullable<AlpacaClientOptions['middleware']>[number] {
  return { pre: async (ctx) => ({ url: ctx.url.replace(trading.TRADING_PAPER_HOST, url), init: ctx.init }) };
}

beforeAll(async () => {
  proc = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('sdk'), auth: { keyId: KEY_ID, secret: SECRET } });
  admin = new PaperBrokerAdmin(proc.url);
  alpaca = new Alpaca({ keyId: KEY_ID, secret: SECRET, paper: true, middleware: [toPaperBroker(proc.url)] });
});

afterAll(async () => {
  await proc?.stop();
});

beforeEach(async () => {
  await admin.reset(100_000);
  await admin.setPrices({ AAPL: 150, MSFT: 400, SPY: 500 });
});

/**
 * The JSON body exactly as the paper broker sends it (plain fetch: the SDK's *Raw() responses leave its 30 s request
 * deadline armed until the body is read through it).
 */
async function rawGet(path: string, method = 'GET'): Promise<unknown> {
  const res = await fetch(proc.url + path, { method, headers: { 'APCA-API-KEY-ID': KEY_ID, 'APCA-API-SECRET-KEY': SECRET } });
  return res.json();
}

/**
 * DELETE /v2/orders/{id} through the SDK. SDK 4.0.2's deleteOrderByOrderID() never reads its 204 answer, so the
 * request's 30 s deadline timer stays armed and keeps the process alive; calling the Raw method and value() is the
 * same request with the answer released.
 */
async function cancelOrder(orderId: string): Promise<void> {
  await (await alpaca.trading.orders.deleteOrderByOrderIDRaw({ orderId })).value();
}

/** The rejection of a promise, for assertions on the SDK's typed errors. */
async function failure(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

/** A position as the SDK parsed it must satisfy the SDK's own model: required fields, enums, decimal strings. */
function expectAlpacaPosition(p: trading.Position): void {
  expect(trading.instanceOfPosition(p)).toBe(true);
  expect(Object.values(trading.ExchangeForPosition)).toContain(p.exchange);
  expect(Object.values(trading.AssetClass)).toContain(p.assetClass);
  expect(Object.values(trading.PositionSideEnum)).toContain(p.side);
  for (const k of ['qty', 'qtyAvailable', 'avgEntryPrice', 'marketValue', 'costBasis', 'unrealizedPl', 'unrealizedPlpc', 'unrealizedIntradayPl', 'unrealizedIntradayPlpc', 'currentPrice', 'lastdayPrice', 'changeToday'] as const) {
    expect(typeof p[k]).toBe('string');
    expect(Number.isFinite(Number(p[k]))).toBe(true);
  }
}

describe('orders', () => {
  test('a market order with a client order id, lookups by client id and by id, lists, cancel and cancel-all', async () => {
    const cid = `sdk-${clientId()}`.slice(0, 48);
    const order = await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy', clientOrderId: cid });
    expect(order).toMatchObject({ clientOrderId: cid, symbol: 'AAPL', side: 'buy', type: 'market', status: 'filled', qty: '10', filledQty: '10', filledAvgPrice: '150' });
    expect(trading.instanceOfOrder(order)).toBe(true);

    expect(await alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: cid })).toMatchObject({ id: order.id, status: 'filled' });
    expect(await alpaca.trading.orders.getOrderByOrderID({ orderId: order.id! })).toMatchObject({ clientOrderId: cid });
    const missing = await failure(alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'no-such-order' }));
    expect(missing).toBeInstanceOf(NotFoundError);

    // A client order id is single-use: Alpaca's 422, and no second order.
    const dup = await failure(alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', clientOrderId: cid }));
    expect([dup.status, dup.code, dup.message]).toEqual([422, 40010001, 'client_order_id must be unique']);

    const resting = await alpaca.trading.orders.limit({ symbol: 'MSFT', qty: 2, side: 'buy', limitPrice: 350, timeInForce: 'gtc' });
    const sell = await alpaca.trading.orders.limit({ symbol: 'SPY', qty: 1, side: 'sell', limitPrice: 600, timeInForce: 'day' });
    expect((await alpaca.trading.orders.getAllOrders({ status: 'open' })).map((o) => o.id).sort()).toEqual([resting.id, sell.id].sort());
    expect((await alpaca.trading.orders.getAllOrders({ status: 'all', symbols: ['AAPL', 'MSFT'] })).map((o) => o.symbol).sort()).toEqual(['AAPL', 'MSFT']);
    expect((await alpaca.trading.orders.getAllOrders({ status: 'open', side: 'sell' })).map((o) => o.id)).toEqual([sell.id]);

    await cancelOrder(resting.id!);
    expect(await alpaca.trading.orders.getOrderByOrderID({ orderId: resting.id! })).toMatchObject({ status: 'canceled' });
    const canceled = await alpaca.trading.orders.deleteAllOrders();
    expect(canceled).toEqual([{ id: sell.id, status: 200 }]);
    expect(await alpaca.trading.orders.getAllOrders({ status: 'open' })).toEqual([]);
    expect(await alpaca.trading.orders.deleteAllOrders()).toEqual([]);
  });
});

describe('positions', () => {
  test('list and get satisfy the SDK model; long and short; by symbol or asset id; 404 when none', async () => {
    await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });
    await alpaca.trading.orders.market({ symbol: 'MSFT', qty: 5, side: 'sell' });
    await admin.setPrices({ AAPL: 160, MSFT: 380 });
    const positions = await alpaca.trading.positions.getAllOpenPositions();
    expect(positions).toHaveLength(2);
    positions.forEach(expectAlpacaPosition);
    const [aapl, msft] = positions;
    expect(aapl).toMatchObject({ symbol: 'AAPL', side: 'long', qty: '10', qtyAvailable: '10', avgEntryPrice: '150', currentPrice: '160', marketValue: '1600', costBasis: '1500', unrealizedPl: '100' });
    expect(Number(aapl!.unrealizedPlpc)).toBeCloseTo(100 / 1500, 9);
    // A short position: negative qty, market value and cost basis; a falling price is a gain.
    expect(msft).toMatchObject({ symbol: 'MSFT', side: 'short', qty: '-5', qtyAvailable: '-5', marketValue: '-1900', costBasis: '-2000', unrealizedPl: '100' });

    const bySymbol = await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'aapl' });
    expectAlpacaPosition(bySymbol);
    expect(await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: aapl!.assetId })).toEqual(bySymbol);
    const none = await failure(alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'SPY' }));
    expect(none).toBeInstanceOf(NotFoundError);
    expect([none.status, none.code, none.message]).toEqual([404, 40410000, 'position does not exist']);
  });

  test('lastday_price and change_today follow the trading day of the market clock', async () => {
    await admin.setClock({ time: '2026-11-25T20:00:00Z' }); // Wednesday 15:00 ET
    await admin.setPrices({ AAPL: 100 });
    await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 2, side: 'buy' });
    await admin.setPrices({ AAPL: 110 }, { asOf: '2026-11-25T20:59:00Z' }); // the day's last price
    await admin.setPrices({ AAPL: 121 }, { asOf: '2026-11-27T15:00:00Z' }); // Friday (Thursday is Thanksgiving)
    const p = await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' });
    expect(p).toMatchObject({ lastdayPrice: '110', currentPrice: '121', unrealizedIntradayPl: '22', unrealizedPl: '42' });
    expect(Number(p.changeToday)).toBeCloseTo(0.1, 9);
  });
});

describe('closing positions', () => {
  test('one position: by qty, by percentage, whole; the closing order is returned and fills', async () => {
    await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });
    const byQty = await alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL', qty: 3 });
    expect(byQty).toMatchObject({ symbol: 'AAPL', side: 'sell', type: 'market', timeInForce: 'day', qty: '3', status: 'filled' });
    expect(byQty.clientOrderId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' })).toMatchObject({ qty: '7' });
    // 50 % of 7 whole shares closes 3 (whole shares unless the position is fractional).
    expect(await alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL', percentage: 50 })).toMatchObject({ qty: '3', side: 'sell' });
    expect(await alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL' })).toMatchObject({ qty: '4', status: 'filled' });
    expect(await alpaca.trading.positions.getAllOpenPositions()).toEqual([]);
    expect(await alpaca.trading.orders.getAllOrders({ status: 'closed', side: 'sell' })).toHaveLength(3);

    // A short closes with a buy.
    await alpaca.trading.orders.market({ symbol: 'MSFT', qty: 4, side: 'sell' });
    expect(await alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'MSFT' })).toMatchObject({ side: 'buy', qty: '4', status: 'filled' });
    expect(await alpaca.trading.positions.getAllOpenPositions()).toEqual([]);
  });

  test("refusals as Alpaca sends them: no position 404, more than held or held by an open order 403, nothing created", async () => {
    const none = await failure(alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL' }));
    expect([none.status, none.code, none.message]).toEqual([404, 40410000, 'position does not exist']);

    await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 4, side: 'buy' });
    const tooMany = await failure(alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL', qty: 100 }));
    expect([tooMany.status, tooMany.code, tooMany.message]).toEqual([403, 40310000, 'insufficient qty available for order (requested: 100, available: 4)']);

    // An open sell holds the shares: qty_available drops to 0 and a close is refused until the order is canceled.
    const held = await alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 4, side: 'sell', limitPrice: 999, timeInForce: 'gtc' });
    expect(await alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' })).toMatchObject({ qty: '4', qtyAvailable: '0' });
    const blocked = await failure(alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL' }));
    expect([blocked.status, blocked.message]).toEqual([403, 'insufficient qty available for order (requested: 4, available: 0)']);
    expect(await rawGet('/v2/positions/AAPL', 'DELETE')).toEqual({
      code: 40310000,
      message: 'insufficient qty available for order (requested: 4, available: 0)',
      available: '0',
      existing_qty: '4',
      held_for_orders: '4',
      symbol: 'AAPL',
    });
    expect(await alpaca.trading.orders.getAllOrders({ status: 'all' })).toHaveLength(2);

    await cancelOrder(held.id!);
    expect(await alpaca.trading.positions.deleteOpenPosition({ symbolOrAssetId: 'AAPL' })).toMatchObject({ qty: '4', status: 'filled' });
  });

  test('all positions: without cancel_orders a held position is refused in its entry; with it every open order is canceled first', async () => {
    await alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy' });
    await alpaca.trading.orders.market({ symbol: 'MSFT', qty: 3, side: 'sell' });
    await alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 10, side: 'sell', limitPrice: 999, timeInForce: 'gtc' });
    await alpaca.trading.orders.limit({ symbol: 'SPY', qty: 1, side: 'buy', limitPrice: 1, timeInForce: 'gtc' });

    const first = await alpaca.trading.closeAllPositions();
    expect(first.map((r) => [r.symbol, r.status])).toEqual([
      ['AAPL', 403],
      ['MSFT', 200],
    ]);
    expect(first[1]!.body).toMatchObject({ symbol: 'MSFT', side: 'buy', qty: '3', status: 'filled' });
    expect((await alpaca.trading.positions.getAllOpenPositions()).map((p) => p.symbol)).toEqual(['AAPL']);

    const second = await alpaca.trading.closeAllPositions({ cancelOrders: true });
    expect(second.map((r) => [r.symbol, r.status, r.body?.side, r.body?.status])).toEqual([['AAPL', 200, 'sell', 'filled']]);
    expect(await alpaca.trading.positions.getAllOpenPositions()).toEqual([]);
    expect(await alpaca.trading.orders.getAllOrders({ status: 'open' })).toEqual([]);
    expect(await alpaca.trading.closeAllPositions({ cancelOrders: true })).toEqual([]);
  });
});

describe('clock and calendar', () => {
  test('the market clock, set by the admin route: open before an early close, closed at it, a holiday, DST offsets', async () => {
    await admin.setClock({ time: '2026-11-27T17:59:00Z' }); // 12:59 ET, the day after Thanksgiving (closes 13:00)
    const clock = await alpaca.trading.clock.legacyClock();
    expect(clock).toEqual({
      isOpen: true,
      timestamp: new Date('2026-11-27T17:59:00Z'),
      nextClose: new Date('2026-11-27T18:00:00Z'),
      nextOpen: new Date('2026-11-30T14:30:00Z'),
    });
    // As Alpaca writes it: New York time with its offset.
    expect(await rawGet('/v2/clock')).toEqual({ timestamp: '2026-11-27T12:59:00.000000000-05:00', is_open: true, next_open: '2026-11-30T09:30:00-05:00', next_close: '2026-11-27T13:00:00-05:00' });

    await admin.setClock({ time: '2026-11-27T18:00:00Z' });
    expect(await alpaca.trading.clock.legacyClock()).toMatchObject({ isOpen: false, nextOpen: new Date('2026-11-30T14:30:00Z'), nextClose: new Date('2026-11-30T21:00:00Z') });

    await admin.setClock({ time: '2026-12-25T15:00:00Z' }); // Christmas: closed all day
    expect(await alpaca.trading.clock.legacyClock()).toMatchObject({ isOpen: false, nextOpen: new Date('2026-12-28T14:30:00Z'), nextClose: new Date('2026-12-28T21:00:00Z') });

    await admin.setClock({ time: '2026-07-06T13:00:00Z' }); // 09:00 in summer time (-04:00)
    expect(await rawGet('/v2/clock')).toMatchObject({ is_open: false, next_open: '2026-07-06T09:30:00-04:00', next_close: '2026-07-06T16:00:00-04:00' });
  });

  test('a running clock advances; prices with a data time move it forward only; the wall clock again after a reset', async () => {
    await admin.setClock({ time: '2026-03-02T15:00:00Z', running: true });
    await new Promise((r) => setTimeout(r, 60));
    const ran = (await alpaca.trading.clock.legacyClock()).timestamp.getTime() - Date.parse('2026-03-02T15:00:00Z');
    expect(ran).toBeGreaterThanOrEqual(50);
    expect(ran).toBeLessThan(10_000);

    expect((await admin.setPrices({ AAPL: 151 }, { asOf: '2026-03-03T15:00:00Z' })).clock).toBe('2026-03-03T15:00:00.000Z');
    expect((await admin.setPrices({ AAPL: 152 }, { asOf: '2026-03-02T15:00:00Z' })).clock).toBe('2026-03-03T15:00:00.000Z');
    expect(await admin.getClock()).toEqual({ mode: 'frozen', now: '2026-03-03T15:00:00.000Z' });
    expect((await alpaca.trading.clock.legacyClock()).isOpen).toBe(true);

    await admin.reset();
    expect((await admin.getClock()).mode).toBe('wall');
    expect(Math.abs((await alpaca.trading.clock.legacyClock()).timestamp.getTime() - Date.now())).toBeLessThan(10_000);
  });

  test('the calendar across Thanksgiving, its early close, and Christmas, with settlement dates', async () => {
    const days = await alpaca.trading.calendar.legacyCalendar({ start: new Date('2026-11-25'), end: new Date('2026-12-28') });
    const byDate = new Map(days.map((d) => [d.date.toISOString().slice(0, 10), d]));
    expect(byDate.has('2026-11-26')).toBe(false); // Thanksgiving
    expect(byDate.has('2026-12-25')).toBe(false); // Christmas
    expect(byDate.has('2026-11-28')).toBe(false); // a Saturday
    expect(days[0]!.date.toISOString().slice(0, 10)).toBe('2026-11-25');
    expect(days[days.length - 1]!.date.toISOString().slice(0, 10)).toBe('2026-12-28');
    expect(days).toHaveLength(22);
    const day = (d: string) => {
      const x = byDate.get(d)!;
      return { open: x.open, close: x.close, sessionOpen: x.sessionOpen, sessionClose: x.sessionClose, settlementDate: x.settlementDate.toISOString().slice(0, 10) };
    };
    expect(day('2026-11-25')).toEqual({ open: '09:30', close: '16:00', sessionOpen: '0400', sessionClose: '2000', settlementDate: '2026-11-27' });
    expect(day('2026-11-27')).toEqual({ open: '09:30', close: '13:00', sessionOpen: '0400', sessionClose: '1700', settlementDate: '2026-11-30' });
    expect(day('2026-12-24')).toEqual({ open: '09:30', close: '13:00', sessionOpen: '0400', sessionClose: '1700', settlementDate: '2026-12-28' });

    // The same range asked with plain dates, as a user's code may write them; and by settlement date.
    expect(await rawGet('/v2/calendar?start=2026-11-27&end=2026-11-27')).toEqual([{ date: '2026-11-27', open: '09:30', close: '13:00', session_open: '0400', session_close: '1700', settlement_date: '2026-11-30' }]);
    const settling = await alpaca.trading.calendar.legacyCalendar({ start: new Date('2026-11-30'), end: new Date('2026-11-30'), dateType: 'SETTLEMENT' });
    expect(settling.map((d) => d.date.toISOString().slice(0, 10))).toEqual(['2026-11-27']);
  });

  test('the generated API classes work with basePath pointing at the paper broker too', async () => {
    const config = new trading.Configuration({ basePath: proc.url, keyId: KEY_ID, secret: SECRET });
    await admin.setClock({ time: '2026-11-27T14:30:00Z' });
    expect((await new trading.ClockApi(config).legacyClock()).isOpen).toBe(true);
    expect((await new trading.AccountsApi(config).getAccount()).cash).toBe('100000');
    const wrong = await failure(new trading.ClockApi(new trading.Configuration({ basePath: proc.url, keyId: KEY_ID, secret: 'wrong-secret-000000' })).legacyClock());
    expect([wrong.status, wrong.message]).toEqual([403, 'forbidden.']);
  });
});

test('a liquidation written against the SDK: clock, calendar, cancel all, close all, verify flat', async () => {
  await admin.setClock({ time: '2026-11-27T17:55:00Z' }); // close minus 5 minutes on an early-close day
  for (const [symbol, qty, side] of [['AAPL', 10, 'buy'], ['MSFT', 2, 'sell'], ['SPY', 3, 'buy']] as const) {
    await alpaca.trading.orders.market({ symbol, qty, side, clientOrderId: `liq-${symbol}-${clientId().slice(0, 8)}` });
  }
  await alpaca.trading.orders.limit({ symbol: 'SPY', qty: 3, side: 'sell', limitPrice: 999, timeInForce: 'day' });

  const clock = await alpaca.trading.clock.legacyClock();
  const [today] = await alpaca.trading.calendar.legacyCalendar({ start: clock.timestamp, end: clock.timestamp });
  expect(today).toMatchObject({ close: '13:00' });
  expect(clock.isOpen && clock.nextClose.getTime() - clock.timestamp.getTime()).toBe(5 * 60_000);

  expect(await alpaca.trading.orders.deleteAllOrders()).toHaveLength(1);
  const closed = await alpaca.trading.closeAllPositions({ cancelOrders: true });
  expect(closed.map((r) => [r.symbol, r.status, r.body?.status])).toEqual([
    ['AAPL', 200, 'filled'],
    ['MSFT', 200, 'filled'],
    ['SPY', 200, 'filled'],
  ]);
  expect(await alpaca.trading.positions.getAllOpenPositions()).toEqual([]);
  expect((await alpaca.trading.account.getAccount()).cash).toBe('100000');
});
