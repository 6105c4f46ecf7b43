/**
 * The Alpaca adapter's liquidation calls against scripted answers shaped like Alpaca's documented ones (no server):
 * GET /v2/clock (nanosecond times with the New York offset), GET /v2/calendar, GET and DELETE /v2/positions/{symbol},
 * DELETE /v2/positions (207) and DELETE /v2/orders (207): what is sent, how each answer is classified, and that keys
 * echoed back never reach a result.
 */
import { AlpacaBroker } from '../../brokers/alpaca/adapter';
import { BrokerRequestError, BrokerUnavailableError } from '../../brokers/port';
import { CANARY_CREDENTIALS, CANARY_KEY_ID, CANARY_SECRET } from './helpers';

type Call = { method: string; url: URL };

function scripted(answer: (call: Call) => Response, opts: { closeWithClientOrderId?: boolean } = {}) {
  const calls: Call[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const call = { method: init?.method ?? 'GET', url: new URL(String(input)) };
    calls.push(call);
    return answer(call);
  }) as typeof fetch;
  const broker = new AlpacaBroker({ baseUrl: 'http://alpaca.test', credentials: () => CANARY_CREDENTIALS, fetch: fetchFn, timeoutMs: 1_000, ...opts });
  return { broker, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const CLOSE_ORDER = {
  id: '8c1c6a3e-1c7c-4b8f-9d3e-2f6f5b2f1a10',
  client_order_id: 'f4b4a4c8-6a9e-4ad0-9b6f-3e3e1c1d2a11',
  created_at: '2026-11-27T17:55:01.123456Z',
  updated_at: '2026-11-27T17:55:01.123456Z',
  submitted_at: '2026-11-27T17:55:01.120000Z',
  symbol: 'AAPL',
  asset_class: 'us_equity',
  qty: '2.5',
  filled_qty: '0',
  filled_avg_price: null,
  order_class: '',
  order_type: 'market',
  type: 'market',
  side: 'sell',
  time_in_force: 'day',
  limit_price: null,
  status: 'accepted',
};

describe('clock and calendar', () => {
  test("GET /v2/clock: Alpaca's nanosecond New York times become epoch ms", async () => {
    const { broker, calls } = scripted(() =>
      json(200, { timestamp: '2025-08-23T22:23:50.659466386-04:00', is_open: false, next_open: '2025-08-25T09:30:00-04:00', next_close: '2025-08-25T16:00:00-04:00' }),
    );
    expect(await broker.getClock()).toEqual({
      timestampMs: Date.parse('2025-08-24T02:23:50.659Z'),
      isOpen: false,
      nextOpenMs: Date.parse('2025-08-25T13:30:00Z'),
      nextCloseMs: Date.parse('2025-08-25T20:00:00Z'),
    });
    expect(calls.map((c) => `${c.method} ${c.url.pathname}`)).toEqual(['GET /v2/clock']);
    await expect(scripted(() => json(200, { timestamp: 'soon', is_open: true, next_open: 'x', next_close: 'y' })).broker.getClock()).rejects.toThrow(/unreadable clock/);
  });

  test("GET /v2/calendar: dates and HH:MM New York hours, across Thanksgiving's early close", async () => {
    const day = (date: string, close: string, sessionClose: string, settlement: string) => ({ date, open: '09:30', close, session_open: '0400', session_close: sessionClose, settlement_date: settlement });
    const { broker, calls } = scripted(() => json(200, [day('2025-11-26', '16:00', '2000', '2025-11-28'), day('2025-11-28', '13:00', '1700', '2025-12-01')]));
    expect(await broker.getCalendar({ start: '2025-11-26', end: '2025-11-28' })).toEqual([
      { date: '2025-11-26', openMs: Date.parse('2025-11-26T14:30:00Z'), closeMs: Date.parse('2025-11-26T21:00:00Z'), settlementDate: '2025-11-28' },
      { date: '2025-11-28', openMs: Date.parse('2025-11-28T14:30:00Z'), closeMs: Date.parse('2025-11-28T18:00:00Z'), settlementDate: '2025-12-01' },
    ]);
    expect(Object.fromEntries(calls[0]!.url.searchParams)).toEqual({ start: '2025-11-26', end: '2025-11-28' });
  });
});

describe('positions', () => {
  test('GET /v2/positions/{symbol}: a short position; 404 "position does not exist" is null', async () => {
    const short = {
      asset_id: '904837e3-3b76-47ec-b432-046db621571b', symbol: 'TSLA', exchange: 'NASDAQ', asset_class: 'us_equity', asset_marginable: true,
      qty: '-5', qty_available: '-3', avg_entry_price: '200.5', side: 'short', market_value: '-1000', cost_basis: '-1002.5',
      unrealized_pl: '2.5', unrealized_plpc: '0.0024937655860349', unrealized_intraday_pl: '0', unrealized_intraday_plpc: '0',
      current_price: '200', lastday_price: '200', change_today: '0',
    };
    const { broker, calls } = scripted(({ url }) => (url.pathname.endsWith('/TSLA') ? json(200, short) : json(404, { code: 40410000, message: 'position does not exist' })));
    expect(await broker.getPosition('TSLA')).toEqual({ symbol: 'TSLA', qty: -5, avgEntryPrice: 200.5, qtyAvailable: -3, currentPrice: 200 });
    expect(await broker.getPosition('BRK.B')).toBeNull();
    expect(calls.map((c) => c.url.pathname)).toEqual(['/v2/positions/TSLA', '/v2/positions/BRK.B']);
  });

  test('DELETE /v2/positions/{symbol}: qty or percentage as query parameters; the closing order is accepted', async () => {
    const { broker, calls } = scripted(() => json(200, CLOSE_ORDER));
    expect(await broker.closePosition({ symbol: 'AAPL', qty: 2.5 })).toMatchObject({ kind: 'accepted', order: { id: CLOSE_ORDER.id, side: 'sell', qty: 2.5, status: 'accepted' } });
    await broker.closePosition({ symbol: 'AAPL', percentage: 33.3 });
    await broker.closePosition({ symbol: 'AAPL' });
    expect(calls.map((c) => [c.method, c.url.pathname, c.url.search])).toEqual([
      ['DELETE', '/v2/positions/AAPL', '?qty=2.5'],
      ['DELETE', '/v2/positions/AAPL', '?percentage=33.3'],
      ['DELETE', '/v2/positions/AAPL', ''],
    ]);
  });

  const answers: Array<[string, () => Response, string, RegExp | number]> = [
    ['404 position does not exist', () => json(404, { code: 40410000, message: 'position does not exist' }), 'rejected', 404],
    ['403 insufficient qty', () => json(403, { code: 40310000, message: 'insufficient qty available for order (requested: 10, available: 0)', available: '0', existing_qty: '10', held_for_orders: '10', symbol: 'AAPL' }), 'rejected', 403],
    ['422 invalid percentage', () => json(422, { code: 40010001, message: 'percentage must be between 0 and 100' }), 'rejected', 422],
    ['429', () => json(429, { message: 'rate limit exceeded' }, { 'retry-after': '2' }), 'unknown', /rate limited/],
    ['500', () => json(500, { code: 50010000, message: 'internal server error' }), 'unknown', /HTTP 500/],
    ['200 with an unreadable body', () => json(200, { ok: true }), 'unknown', /unreadable order/],
  ];
  test.each(answers)('close answered %s', async (_name, answer, kind, detail) => {
    const outcome = await scripted(answer).broker.closePosition({ symbol: 'AAPL' });
    expect(outcome.kind).toBe(kind);
    if (typeof detail === 'number') expect(outcome).toMatchObject({ status: detail });
    else if (outcome.kind !== 'accepted') expect(outcome.reason).toMatch(detail);
  });

  test('configuration faults throw: a 404 that is not about a position (wrong base URL), 401, 403 forbidden.', async () => {
    await expect(scripted(() => json(404, { code: 40410000, message: 'endpoint not found' })).broker.closePosition({ symbol: 'AAPL' })).rejects.toBeInstanceOf(BrokerRequestError);
    await expect(scripted(() => json(401, { code: 40110000, message: 'request is not authorized' })).broker.closePosition({ symbol: 'AAPL' })).rejects.toThrow(/not authorized/);
    await expect(scripted(() => json(403, { message: 'forbidden.' })).broker.closePosition({ symbol: 'AAPL' })).rejects.toThrow(/not authorized \(403\)/);
  });

  test("Alpaca names closing orders itself: a caller's client id is refused locally; bad quantities too; the paper flag sends it", async () => {
    const { broker, calls } = scripted(() => json(200, CLOSE_ORDER));
    expect(await broker.closePosition({ symbol: 'AAPL', clientOrderId: 'ledger-id-1' })).toMatchObject({ kind: 'rejected', reason: /names closing orders itself/ });
    expect(await broker.closePosition({ symbol: 'AAPL', qty: 0 })).toMatchObject({ kind: 'rejected', reason: /qty must be a positive number/ });
    expect(await broker.closePosition({ symbol: 'AAPL', percentage: 101 })).toMatchObject({ kind: 'rejected', reason: /percentage/ });
    expect(calls).toHaveLength(0);
    const paper = scripted(() => json(200, CLOSE_ORDER), { closeWithClientOrderId: true });
    await paper.broker.closePosition({ symbol: 'AAPL', clientOrderId: 'ledger-id-1' });
    expect(paper.calls[0]!.url.searchParams.get('client_order_id')).toBe('ledger-id-1');
  });
});

describe('close all and cancel all (207 multi-status)', () => {
  test('DELETE /v2/positions?cancel_orders=true: one result per symbol, orders parsed, refusals kept with their message', async () => {
    const { broker, calls } = scripted(() =>
      json(207, [
        { symbol: 'AAPL', status: 200, body: CLOSE_ORDER },
        { symbol: 'TSLA', status: 403, body: { code: 40310000, message: 'insufficient qty available for order (requested: 5, available: 0)' } },
      ]),
    );
    const results = await broker.closeAllPositions({ cancelOrders: true });
    expect(results).toEqual([
      { symbol: 'AAPL', status: 200, order: expect.objectContaining({ id: CLOSE_ORDER.id, side: 'sell' }) },
      { symbol: 'TSLA', status: 403, order: null, message: 'insufficient qty available for order (requested: 5, available: 0)' },
    ]);
    expect(calls.map((c) => [c.method, c.url.pathname, c.url.search])).toEqual([['DELETE', '/v2/positions', '?cancel_orders=true']]);
  });

  test('DELETE /v2/orders: ids and statuses, with or without the order as body', async () => {
    const { broker } = scripted(() => json(207, [{ id: CLOSE_ORDER.id, status: 200, body: { ...CLOSE_ORDER, status: 'pending_cancel' } }, { id: 'other-order', status: 500 }]));
    expect(await broker.cancelAllOrders()).toEqual([
      { orderId: CLOSE_ORDER.id, status: 200, order: expect.objectContaining({ id: CLOSE_ORDER.id, status: 'new' }) },
      { orderId: 'other-order', status: 500, order: null },
    ]);
    expect(await scripted(() => json(207, [])).broker.cancelAllOrders()).toEqual([]);
  });

  test('an outage is BrokerUnavailableError (the caller re-reads positions and orders); keys echoed back are scrubbed', async () => {
    await expect(scripted(() => json(503, { message: 'maintenance' })).broker.closeAllPositions({ cancelOrders: false })).rejects.toBeInstanceOf(BrokerUnavailableError);
    await expect(scripted(() => json(429, { message: 'slow down' })).broker.cancelAllOrders()).rejects.toMatchObject({ status: 429 });
    const echo = await scripted(() => json(207, [{ symbol: 'AAPL', status: 403, body: { message: `key ${CANARY_KEY_ID} secret ${CANARY_SECRET}` } }])).broker.closeAllPositions({ cancelOrders: false });
    expect(JSON.stringify(echo)).not.toContain(CANARY_SECRET);
    expect(JSON.stringify(echo)).not.toContain(CANARY_KEY_ID);
    expect(echo[0]!.message).toBe('key [redacted] secret [redacted]');
  });
});
