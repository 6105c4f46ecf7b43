/**
 * The Alpaca Market Data adapter against a local fake server that follows the documented response shape and
 * pagination: happy path over several pages, 429 / 5xx / timeout -> MarketDataUnavailableError, 4xx ->
 * MarketDataRequestError with Alpaca's message, and the secret never in an error.
 */
import { AlpacaMarketData, rfc3339 } from '../../marketdata/alpaca';
import { MarketDataRequestError, MarketDataUnavailableError } from '../../marketdata/port';
import { startFakeAlpaca, type FakeAlpaca } from './fake-alpaca';
import { bars } from './helpers';

const KEY_ID = 'PKCANARYKEYID0000001';
const SECRET = 'canary-secret-Zq93kLx0-do-not-leak';
const T0 = Date.UTC(2024, 0, 2, 14, 30);
const MIN = 60_000;

let fake: FakeAlpaca;

beforeAll(async () => {
  fake = await startFakeAlpaca({ keyId: KEY_ID, secretKey: SECRET, hangMs: 1_500 });
  fake.setBars('AAPL', bars(25, T0, MIN));
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.faults.length = 0;
  fake.requests.length = 0;
});

function adapter(overrides: Partial<ConstructorParameters<typeof AlpacaMarketData>[0]> = {}) {
  return new AlpacaMarketData({ baseUrl: fake.url, credentials: () => ({ keyId: KEY_ID, secretKey: SECRET }), pageSize: 10, timeoutMs: 300, ...overrides });
}

/** Runs fn, expects a throw, and returns the error (so its fields can be checked). */
async function failure(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

function expectNoSecrets(err: Error) {
  const text = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err)}`;
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(KEY_ID);
}

describe('AlpacaMarketData', () => {
  test('follows next_page_token across pages and returns ascending bars with the documented query', async () => {
    const got = await adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 + 24 * MIN });
    expect(got.map((b) => b.ts)).toEqual(bars(25, T0, MIN).map((b) => b.ts));
    expect(got[3]).toEqual(bars(25, T0, MIN)[3]);
    expect(fake.requests).toHaveLength(3); // 10 + 10 + 5
    expect(fake.requests[0]).toEqual({
      timeframe: '1Min',
      start: '2024-01-02T14:30:00Z',
      end: rfc3339(T0 + 24 * MIN),
      limit: '10',
      feed: 'iex',
      adjustment: 'raw',
      sort: 'asc',
    });
    expect(fake.requests[0].page_token).toBeUndefined();
    expect(fake.requests[1].page_token).toBeTruthy();
    expect(fake.requests[2].page_token).toBeTruthy();
  });

  test('honours the inclusive range and the overall limit (earliest bars first)', async () => {
    const got = await adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0 + 5 * MIN, toMs: T0 + 7 * MIN });
    expect(got.map((b) => (b.ts - T0) / MIN)).toEqual([5, 6, 7]);
    const limited = await adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 + 24 * MIN, limit: 13 });
    expect(limited.map((b) => (b.ts - T0) / MIN)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(fake.requests.slice(-2).map((r) => r.limit)).toEqual(['10', '3']);
  });

  test('"bars": null (no data) is an empty result', async () => {
    expect(await adapter().fetchBars({ symbol: 'NODATA', timeframe: '1d', fromMs: T0, toMs: T0 + 86_400_000 })).toEqual([]);
    expect(fake.requests[0].timeframe).toBe('1Day');
  });

  test('429 -> MarketDataUnavailableError with the Retry-After delay', async () => {
    fake.faults.push('429');
    const err = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataUnavailableError);
    expect((err as MarketDataUnavailableError).retryAfterMs).toBe(3_000);
    expect((err as MarketDataUnavailableError).status).toBe(429);
    expectNoSecrets(err);
  });

  test('500 and 503 -> MarketDataUnavailableError', async () => {
    fake.faults.push('500');
    const e500 = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(e500).toBeInstanceOf(MarketDataUnavailableError);
    expect(e500.message).toMatch(/HTTP 500 internal server error/);
    fake.faults.push('503');
    const e503 = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(e503).toBeInstanceOf(MarketDataUnavailableError);
    expect(e503.message).toMatch(/HTTP 503 service unavailable/);
  });

  test('a failure on a later page fails the whole call (no partial result)', async () => {
    fake.faults.push('ok', '500');
    const err = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 + 24 * MIN }));
    expect(err).toBeInstanceOf(MarketDataUnavailableError);
    expect(fake.requests).toHaveLength(2);
  });

  test('no answer within the timeout -> MarketDataUnavailableError, promptly', async () => {
    fake.faults.push('hang');
    const t0 = Date.now();
    const err = await failure(() => adapter({ timeoutMs: 200 }).fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataUnavailableError);
    expect(err.message).toMatch(/no answer within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(1_200);
  });

  test('a caller abort is not turned into "unavailable"', async () => {
    fake.faults.push('hang');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('cancelled by test')), 50);
    const err = await failure(() => adapter({ timeoutMs: 1_000 }).fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }, ac.signal));
    expect(err).not.toBeInstanceOf(MarketDataUnavailableError);
    expect(err.message).toBe('cancelled by test');
  });

  test('connection refused -> MarketDataUnavailableError', async () => {
    const err = await failure(() => adapter({ baseUrl: 'http://127.0.0.1:1' }).fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataUnavailableError);
    expect(err.message).toMatch(/network error/);
  });

  test('a 200 that is not the documented JSON -> MarketDataUnavailableError', async () => {
    fake.faults.push('not-json');
    const err = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataUnavailableError);
    const wrongShape = new AlpacaMarketData({
      baseUrl: 'http://127.0.0.1:9', // never dialled: fetch is stubbed
      credentials: () => ({ keyId: KEY_ID, secretKey: SECRET }),
      fetch: (async () => new Response(JSON.stringify({ bars: [{ t: 'yesterday', o: 1 }] }), { status: 200 })) as typeof fetch,
    });
    const e2 = await failure(() => wrongShape.fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(e2).toBeInstanceOf(MarketDataUnavailableError);
    expect(e2.message).toMatch(/unreadable answer \(bars\.0\./);
  });

  test('403 -> non-retryable MarketDataRequestError carrying Alpaca\'s message', async () => {
    fake.faults.push('403');
    const err = await failure(() => adapter({ feed: 'sip' }).fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataRequestError);
    expect((err as MarketDataRequestError).status).toBe(403);
    expect(err.message).toMatch(/subscription does not permit querying recent SIP data/);
    expect(fake.requests[0].feed).toBe('sip');
    expectNoSecrets(err);
  });

  test('422 and wrong keys (401) -> MarketDataRequestError', async () => {
    fake.faults.push('422');
    const e422 = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(e422).toBeInstanceOf(MarketDataRequestError);
    expect(e422.message).toMatch(/422 invalid timeframe/);
    const wrong = adapter({ credentials: () => ({ keyId: 'PKWRONGKEY000000', secretKey: 'wrong-secret-value-123' }) });
    const e401 = await failure(() => wrong.fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(e401).toBeInstanceOf(MarketDataRequestError);
    expect((e401 as MarketDataRequestError).status).toBe(401);
    expect(e401.message).not.toContain('wrong-secret-value-123');
  });

  test('a server echoing the keys back never gets them into the error', async () => {
    fake.faults.push('echo-secret');
    const err = await failure(() => adapter().fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataRequestError);
    expect(err.message).toContain('[redacted]');
    expectNoSecrets(err);
  });

  test('the credentials callback is read per call; its failure names no secret', async () => {
    let calls = 0;
    const a = adapter({
      credentials: () => {
        calls++;
        return { keyId: KEY_ID, secretKey: SECRET };
      },
    });
    await a.fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 + 24 * MIN });
    expect(calls).toBe(3);
    const broken = adapter({
      credentials: () => {
        throw new Error(`vault said no to ${SECRET}`);
      },
    });
    const err = await failure(() => broken.fetchBars({ symbol: 'AAPL', timeframe: '1m', fromMs: T0, toMs: T0 }));
    expect(err).toBeInstanceOf(MarketDataRequestError);
    expectNoSecrets(err);
  });
});
