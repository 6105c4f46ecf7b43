/**
 * The Alpaca adapter's classification of answers, against a scripted fetch (no server): which answers
 * are accepted / rejected / unknown, which reads throw which error, what is parsed from Alpaca's JSON,
 * and that keys never reach an error message.
 */
import { AlpacaBroker } from '../../brokers/alpaca/adapter';
import { decimalString, toOrderStatus } from '../../brokers/alpaca/wire';
import { BrokerRequestError, BrokerUnavailableError, type SubmitOutcome } from '../../brokers/port';
import { FaultConfigSchema, FaultInjector, mulberry32 } from '../../brokers/paper/faults';
import { parsePaperBrokerConfig } from '../../brokers/paper/main';
import { CANARY_CREDENTIALS, CANARY_KEY_ID, CANARY_SECRET, marketBuy } from './helpers';

type Call = { url: URL; init: RequestInit };
type Script = (call: Call) => Response | Promise<Response>;

function scripted(script: Script, opts: { timeoutMs?: number; now?: () => number } = {}) {
  const calls: Call[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const call = { url: new URL(String(input)), init: init ?? {} };
    calls.push(call);
    return script(call);
  }) as typeof fetch;
  const broker = new AlpacaBroker({ baseUrl: 'http://broker.test/', credentials: () => CANARY_CREDENTIALS, fetch: fetchFn, timeoutMs: opts.timeoutMs ?? 1_000, now: opts.now });
  return { broker, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const ORDER = {
  id: '61e69015-8549-4bfd-b9c3-01e75843f47d',
  client_order_id: 'cid-1',
  created_at: '2024-01-02T15:00:00.123456Z',
  updated_at: '2024-01-02T15:00:01Z',
  submitted_at: '2024-01-02T15:00:00.2Z',
  symbol: 'AAPL',
  qty: '10',
  filled_qty: '4',
  filled_avg_price: '187.125',
  type: 'market',
  side: 'buy',
  time_in_force: 'day',
  limit_price: null,
  status: 'partially_filled',
  some_future_field: { nested: true },
};

describe('Alpaca JSON parsing', () => {
  test('decimals arrive as strings and become numbers; unknown fields are ignored', async () => {
    const { broker } = scripted(() => json(200, ORDER));
    const order = await broker.getOrderByClientId('cid-1');
    expect(order).toEqual({
      id: ORDER.id,
      clientOrderId: 'cid-1',
      symbol: 'AAPL',
      side: 'buy',
      type: 'market',
      qty: 10,
      filledQty: 4,
      filledAvgPrice: 187.125,
      limitPrice: null,
      status: 'partially_filled',
      submittedAt: '2024-01-02T15:00:00.2Z',
      updatedAt: '2024-01-02T15:00:01Z',
    });
  });

  test('statuses the port does not name map to open statuses, never terminal ones', () => {
    expect(toOrderStatus('done_for_day', 0)).toBe('new');
    expect(toOrderStatus('pending_cancel', 3)).toBe('partially_filled');
    expect(toOrderStatus('some_status_from_2030', 0)).toBe('new');
    expect(toOrderStatus('pending_new', 0)).toBe('accepted');
    expect(toOrderStatus('replaced', 0)).toBe('canceled');
    for (const s of ['new', 'accepted', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired']) expect(toOrderStatus(s, 0)).toBe(s);
  });

  test('stop orders placed by hand list as type "other"; short positions are negative', async () => {
    const { broker } = scripted(({ url }) =>
      url.pathname === '/v2/orders'
        ? json(200, [{ ...ORDER, type: 'trailing_stop', qty: null, filled_qty: '0', filled_avg_price: null, status: 'new' }])
        : json(200, [
            { symbol: 'TSLA', qty: '5', side: 'short', avg_entry_price: '200.5' },
            { symbol: 'SPY', qty: '-2', side: 'short', avg_entry_price: '450' },
            { symbol: 'AAPL', qty: '3', side: 'long', avg_entry_price: '190' },
          ]),
    );
    const [order] = await broker.listOrders({ status: 'all' });
    expect(order.type).toBe('other');
    expect(order.qty).toBe(0);
    expect(await broker.listPositions()).toEqual([
      { symbol: 'TSLA', qty: -5, avgEntryPrice: 200.5 },
      { symbol: 'SPY', qty: -2, avgEntryPrice: 450 },
      { symbol: 'AAPL', qty: 3, avgEntryPrice: 190 },
    ]);
  });

  test('a non-numeric decimal is an unreadable answer, not NaN', async () => {
    const { broker } = scripted(() => json(200, { cash: 'lots', equity: '1', buying_power: '1' }));
    await expect(broker.getAccount()).rejects.toThrow(/unreadable account \(cash: not a finite decimal\)/);
  });

  test('decimalString never uses exponents and trims zeros', () => {
    expect(decimalString(1)).toBe('1');
    expect(decimalString(0.1 + 0.2)).toBe('0.3');
    expect(decimalString(1e-7)).toBe('0.0000001');
    expect(decimalString(123.45)).toBe('123.45');
  });
});

describe('submitOrder classification', () => {
  const cases: [string, () => Response, SubmitOutcome['kind'], RegExp | null][] = [
    ['200 order', () => json(200, { ...ORDER, status: 'accepted', filled_qty: '0', filled_avg_price: null }), 'accepted', null],
    ['403 insufficient buying power', () => json(403, { code: 40310000, message: 'insufficient buying power' }), 'rejected', /insufficient buying power/],
    ['422 validation', () => json(422, { code: 40010001, message: 'qty must be > 0' }), 'rejected', /qty must be > 0/],
    ['422 duplicate client id', () => json(422, { code: 40010001, message: 'client_order_id must be unique' }), 'unknown', /duplicate client_order_id/],
    ['500', () => json(500, { code: 50010000, message: 'internal server error' }), 'unknown', /HTTP 500/],
    ['503 with an HTML body', () => new Response('<html>bad gateway</html>', { status: 503 }), 'unknown', /HTTP 503/],
    ['200 with an unreadable body', () => json(200, { hello: 'world' }), 'unknown', /unreadable order/],
    ['409', () => json(409, { message: 'conflict' }), 'unknown', /HTTP 409 conflict/],
  ];
  test.each(cases)('%s', async (_name, answer, kind, reason) => {
    const { broker } = scripted(answer);
    const outcome = await broker.submitOrder(marketBuy('AAPL'));
    expect(outcome.kind).toBe(kind);
    if (reason && outcome.kind !== 'accepted') expect(outcome.reason).toMatch(reason);
  });

  test('429 is unknown with the Retry-After delay, or with X-RateLimit-Reset when that is all there is', async () => {
    const a = await scripted(() => json(429, { message: 'rate limit exceeded' }, { 'retry-after': '2' })).broker.submitOrder(marketBuy('AAPL'));
    expect(a).toEqual({ kind: 'unknown', reason: expect.stringMatching(/rate limited/), retryAfterMs: 2000 });
    const now = 1_700_000_000_000;
    const b = await scripted(() => json(429, { message: 'rate limit exceeded' }, { 'x-ratelimit-reset': String(now / 1000 + 3) }), { now: () => now }).broker.submitOrder(marketBuy('AAPL'));
    expect(b).toMatchObject({ kind: 'unknown', retryAfterMs: 3000 });
  });

  test('a network failure and a timeout are unknown', async () => {
    const network = await scripted(() => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }))).broker.submitOrder(marketBuy('AAPL'));
    expect(network).toEqual({ kind: 'unknown', reason: expect.stringMatching(/network error: ECONNRESET/) });
    const hang: Script = ({ init }) =>
      new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    const t0 = Date.now();
    const timeout = await scripted(hang, { timeoutMs: 100 }).broker.submitOrder(marketBuy('AAPL'));
    expect(timeout).toEqual({ kind: 'unknown', reason: expect.stringMatching(/no answer within 100 ms/) });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  test('authentication failures throw instead of calling the order rejected', async () => {
    await expect(scripted(() => json(401, { code: 40110000, message: 'request is not authorized' })).broker.submitOrder(marketBuy('AAPL'))).rejects.toBeInstanceOf(BrokerRequestError);
    await expect(scripted(() => json(403, { message: 'forbidden.' })).broker.submitOrder(marketBuy('AAPL'))).rejects.toThrow(/not authorized \(403\)/);
  });

  test('requests the broker would refuse are rejected locally, without a call', async () => {
    const { broker, calls } = scripted(() => json(500, {}));
    expect(await broker.submitOrder(marketBuy('AAPL', 1, 'x'.repeat(49)))).toMatchObject({ kind: 'rejected', reason: /longer than 48/ });
    expect(await broker.submitOrder({ ...marketBuy('AAPL'), qty: 0 })).toMatchObject({ kind: 'rejected' });
    expect(await broker.submitOrder({ ...marketBuy('AAPL'), type: 'limit' })).toMatchObject({ kind: 'rejected', reason: /limitPrice/ });
    expect(calls).toHaveLength(0);
  });

  test('the body is Alpaca-shaped, decimals as strings, keys in headers read at call time', async () => {
    let secret = 'first-secret-value';
    const calls: Call[] = [];
    const broker = new AlpacaBroker({
      baseUrl: 'http://broker.test',
      credentials: () => ({ keyId: 'KEY', secretKey: secret }),
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        calls.push({ url: new URL(String(input)), init: init ?? {} });
        return json(200, ORDER);
      }) as typeof fetch,
    });
    await broker.submitOrder({ clientOrderId: 'cid-9', symbol: 'AAPL', side: 'buy', qty: 0.5, type: 'limit', limitPrice: 101.25, timeInForce: 'gtc' });
    secret = 'rotated-secret-value';
    await broker.getAccount().catch(() => undefined);
    expect(calls[0].url.pathname).toBe('/v2/orders');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ symbol: 'AAPL', qty: '0.5', side: 'buy', type: 'limit', time_in_force: 'gtc', limit_price: '101.25', client_order_id: 'cid-9' });
    const headers = (i: number) => calls[i].init.headers as Record<string, string>;
    expect(headers(0)['APCA-API-KEY-ID']).toBe('KEY');
    expect(headers(0)['APCA-API-SECRET-KEY']).toBe('first-secret-value');
    expect(headers(1)['APCA-API-SECRET-KEY']).toBe('rotated-secret-value');
  });
});

describe('reads', () => {
  test('404 on lookup by client id is null; the client id is sent as a query parameter', async () => {
    const { broker, calls } = scripted(() => json(404, { code: 40410000, message: 'order not found' }));
    expect(await broker.getOrderByClientId('a b/c')).toBeNull();
    expect(calls[0].url.pathname).toBe('/v2/orders:by_client_order_id');
    expect(calls[0].url.searchParams.get('client_order_id')).toBe('a b/c');
  });

  test('429 and 5xx are BrokerUnavailableError with status and retry-after; other refusals BrokerRequestError', async () => {
    const limited = await scripted(() => json(429, { message: 'slow down' }, { 'retry-after': '1' })).broker.listPositions().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(BrokerUnavailableError);
    expect(limited).toMatchObject({ status: 429, retryAfterMs: 1000 });
    await expect(scripted(() => json(503, { message: 'maintenance' })).broker.getAccount()).rejects.toMatchObject({ name: 'BrokerUnavailableError', status: 503 });
    const notCancelable = await scripted(() => json(422, { code: 42210000, message: 'order is already in "filled" state' })).broker.cancelOrder('x').catch((e: unknown) => e);
    expect(notCancelable).toBeInstanceOf(BrokerRequestError);
    expect(notCancelable).toMatchObject({ status: 422, message: expect.stringMatching(/already in "filled" state/) });
  });

  test("a caller's abort surfaces as the caller's reason, not as an outage", async () => {
    const controller = new AbortController();
    const { broker, calls } = scripted(({ init }) => new Promise((_r, reject) => init.signal!.addEventListener('abort', () => reject(new Error('aborted')))));
    const reason = new Error('activity cancelled');
    const pending = broker.getAccount(controller.signal);
    await new Promise((r) => setTimeout(r, 20)); // the request is in flight
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
    // Already aborted: no request at all.
    await expect(broker.listPositions(controller.signal)).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
  });

  test('fills get their client order id from one order lookup per unknown order', async () => {
    const fill = (id: string) => ({ id, activity_type: 'FILL', order_id: ORDER.id, symbol: 'AAPL', side: 'buy', qty: '2', price: '187', transaction_time: '2024-01-02T15:00:00Z' });
    const { broker, calls } = scripted(({ url }) => (url.pathname.startsWith('/v2/account/activities') ? json(200, [fill('f1'), fill('f2')]) : json(200, ORDER)));
    const fills = await broker.listFills({ pageToken: 'f0', limit: 500 });
    expect(fills.map((f) => [f.id, f.clientOrderId, f.qty, f.price])).toEqual([
      ['f1', 'cid-1', 2, 187],
      ['f2', 'cid-1', 2, 187],
    ]);
    expect(calls.map((c) => c.url.pathname)).toEqual(['/v2/account/activities/FILL', `/v2/orders/${ORDER.id}`]);
    expect(Object.fromEntries(calls[0].url.searchParams)).toEqual({ direction: 'asc', page_size: '100', page_token: 'f0' });
    await broker.listFills({});
    expect(calls).toHaveLength(3); // the order id is remembered
  });
});

describe('secrets', () => {
  test('a broker that echoes the keys back never gets them into an error or outcome', async () => {
    const echo = () => json(500, { message: `bad key ${CANARY_KEY_ID} / ${CANARY_SECRET}` });
    const outcome = await scripted(echo).broker.submitOrder(marketBuy('AAPL'));
    const read = await scripted(echo).broker.getAccount().catch((e: Error) => e);
    const texts = [JSON.stringify(outcome), String(read), (read as Error).stack ?? '', JSON.stringify(read)];
    for (const t of texts) {
      expect(t).not.toContain(CANARY_SECRET);
      expect(t).not.toContain(CANARY_KEY_ID);
    }
    expect(JSON.stringify(outcome)).toContain('[redacted]');
  });
});

describe('paper broker building blocks', () => {
  test('mulberry32 is reproducible from its seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xs);
    expect(Array.from({ length: 5 }, c)).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  test('fault draws follow the configured probabilities', () => {
    const f = new FaultInjector();
    f.configure(FaultConfigSchema.parse({ seed: 7, reject: 0.1, http5xx: 0.2, http429: 0.1, timeoutBeforeExecute: 0.05, executeThenTimeout: 0.05 }));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const k = f.nextSubmitFault().kind;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    expect(counts.none / 20_000).toBeCloseTo(0.5, 1);
    expect(counts.http5xx / 20_000).toBeCloseTo(0.2, 1);
    expect(f.counts.http5xx).toBe(counts.http5xx);
    expect(() => FaultConfigSchema.parse({ reject: 0.6, http5xx: 0.6 })).toThrow(/sum to at most 1/);
  });

  test('main.ts reads flags over the environment and never echoes values', () => {
    const env = { DATABASE_URL: 'postgres://u:pw@127.0.0.1/db', PAPER_BROKER_PORT: '9000', PAPER_BROKER_KEY_ID: '', PAPER_BROKER_SECRET: '' };
    expect(parsePaperBrokerConfig(['--port', '9100'], env)).toMatchObject({ port: 9100, host: '127.0.0.1', account: 'default', partialFillSlices: 1, auth: undefined });
    expect(parsePaperBrokerConfig(['--port=0', '--account', 'acct-1'], env)).toMatchObject({ port: 0, account: 'acct-1' });
    expect(() => parsePaperBrokerConfig([], { ...env, PAPER_BROKER_KEY_ID: 'only-the-id' })).toThrow(/set both/);
    const err = (() => {
      try {
        parsePaperBrokerConfig([], { DATABASE_URL: 'mysql://secret-password@x' });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toMatch(/DATABASE_URL/);
    expect(err).not.toContain('secret-password');
  });
});
