import { Readable } from 'node:stream';
import { uniqueSymbol } from '../helpers/db';
import { AUTH, countBacktestWorkflows, countJobs, startApi, type ApiHarness } from './harness';

interface ErrorAnswer {
  error: { code: string; message: string; issues?: Array<{ in: string; path: string; message: string }> };
}

let h: ApiHarness;
let jobsBefore: number;
let workflowsBefore: number;

beforeAll(async () => {
  h = await startApi();
  jobsBefore = await countJobs(h.db);
  workflowsBefore = await countBacktestWorkflows(h);
});

afterAll(async () => {
  await h?.close();
});

const VALID = { symbol: 'VALID', timeframe: '1d', strategy: 'sma-cross' };

async function postBacktest(payload: unknown, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: 'POST',
    url: '/v1/backtests',
    headers: { ...AUTH.trader, ...headers },
    ...(typeof payload === 'string' ? { payload } : payload === undefined ? {} : { payload: payload as object }),
  });
}

function expectIssue(body: ErrorAnswer, where: string, path: string, message?: RegExp) {
  const issues = body.error.issues ?? [];
  const match = issues.find((i) => i.in === where && i.path === path);
  if (!match) throw new Error(`no issue at ${where}:${path} in ${JSON.stringify(issues)}`);
  if (message) expect(match.message).toMatch(message);
}

describe('POST /v1/backtests rejects bad bodies with 400 and issue paths', () => {
  const cases: Array<[string, unknown, string, RegExp?]> = [
    ['symbol of the wrong type', { ...VALID, symbol: 123 }, 'symbol', /string/],
    ['missing symbol', { timeframe: '1d', strategy: 'sma-cross' }, 'symbol'],
    ['symbol with illegal characters', { ...VALID, symbol: 'BAD SYMBOL!' }, 'symbol', /A-Z/],
    ['missing strategy', { symbol: 'X' }, 'strategy', /strategy must be one of/],
    ['unknown strategy', { ...VALID, strategy: 'moon' }, 'strategy', /strategy must be one of/],
    ['unknown timeframe', { ...VALID, timeframe: '2d' }, 'timeframe', /timeframe must be one of/],
    ['unknown top-level key', { ...VALID, approvedBy: 'me' }, '', /approvedBy/],
    ['negative cash', { ...VALID, initialCash: -5 }, 'initialCash', />/],
    ['cash as a string', { ...VALID, initialCash: 'NaN' }, 'initialCash', /number/],
    ['huge quantity', { ...VALID, quantity: 1e20 }, 'quantity', /too large/],
    ['commission rate above 50 %', { ...VALID, commissionRate: 3 }, 'commissionRate'],
    ['negative slippage', { ...VALID, slippageBps: -1 }, 'slippageBps'],
    ['stop loss of 100 %', { ...VALID, stopLossPct: 1 }, 'stopLossPct'],
    ['allowShort not a boolean', { ...VALID, allowShort: 'yes' }, 'allowShort'],
    ['unknown intrabar policy', { ...VALID, intrabarPolicy: 'random' }, 'intrabarPolicy'],
    ['fast >= slow', { ...VALID, params: { fast: 30, slow: 10 } }, 'params.fast', /smaller than slow/],
    ['unknown strategy parameter', { ...VALID, params: { speed: 3 } }, 'params.speed', /unknown parameter/],
    ['fractional period', { ...VALID, params: { fast: 2.5, slow: 10 } }, 'params.fast', /whole number/],
    ['params not an object', { ...VALID, params: [1, 2] }, 'params'],
    ['rsi levels out of order', { ...VALID, strategy: 'rsi-reversion', params: { oversold: 80, overbought: 20 } }, 'params.oversold'],
    ['from after to', { ...VALID, from: '2014-12-31', to: '2014-01-01' }, 'from', /after/],
    ['a date that does not exist', { ...VALID, from: '2014-13-45' }, 'from', /ISO date/],
    ['a date-time without zone', { ...VALID, to: '2014-01-01T10:00:00' }, 'to'],
  ];

  // Rows padded to four values: with fewer, jest would take the last parameter for a `done` callback.
  test.each(cases.map(([n, p, path, m]) => [n, p, path, m] as const))('%s', async (_name, payload, path, message) => {
    const res = await postBacktest(payload);
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorAnswer>();
    expect(body.error.code).toBe('invalid_request');
    expectIssue(body, 'body', path, message);
  });

  test('a huge number (1e400 parses as Infinity) is rejected', async () => {
    const res = await postBacktest('{"symbol":"X","strategy":"sma-cross","initialCash":1e400}', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expectIssue(res.json<ErrorAnswer>(), 'body', 'initialCash');
  });

  test('no body at all', async () => {
    const res = await postBacktest(undefined);
    expect(res.statusCode).toBe(400);
    expectIssue(res.json<ErrorAnswer>(), 'body', '');
  });

  test('a JSON array', async () => {
    const res = await postBacktest('[1,2]', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
  });

  test('a body that is not JSON', async () => {
    const res = await postBacktest('{"symbol": ', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorAnswer>().error.code).toBe('invalid_json');
  });

  test('prototype pollution is refused', async () => {
    const res = await postBacktest('{"symbol":"X","strategy":"sma-cross","__proto__":{"admin":true}}', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
  });

  test.each(['text/csv', 'text/plain', 'application/xml', 'application/x-www-form-urlencoded'])('content type %s is a 415', async (type) => {
    const res = await postBacktest('symbol=X', { 'content-type': type });
    expect(res.statusCode).toBe(415);
    expect(res.json<ErrorAnswer>().error.code).toBe('unsupported_media_type');
  });

  test('a JSON body over 1 MiB is a 413', async () => {
    const res = await postBacktest(JSON.stringify({ ...VALID, params: { pad: 'x'.repeat(1_100_000) } }), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(413);
    expect(res.json<ErrorAnswer>().error.code).toBe('payload_too_large');
  });
});

describe('query and path parameters', () => {
  test.each([
    ['/v1/backtests/not-a-uuid', 'path', 'id'],
    ['/v1/backtests/not-a-uuid/trades', 'path', 'id'],
    ['/v1/backtests?limit=0', 'query', 'limit'],
    ['/v1/backtests?limit=abc', 'query', 'limit'],
    ['/v1/backtests?limit=100000', 'query', 'limit'],
    ['/v1/backtests?offset=-1', 'query', 'offset'],
    ['/v1/backtests?sort=desc', 'query', ''],
  ])('GET %s is a 400 at %s.%s', async (url, where, path) => {
    const res = await h.app.inject({ method: 'GET', url, headers: AUTH.viewer });
    expect(res.statusCode).toBe(400);
    expectIssue(res.json<ErrorAnswer>(), where, path);
  });

  test('cancel with a non-uuid id is a 400; an unknown uuid is a 404', async () => {
    expect((await h.app.inject({ method: 'POST', url: '/v1/backtests/123/cancel', headers: AUTH.trader })).statusCode).toBe(400);
    const res = await h.app.inject({ method: 'POST', url: '/v1/backtests/00000000-0000-4000-8000-000000000000/cancel', headers: AUTH.trader });
    expect(res.statusCode).toBe(404);
    expect(res.json<ErrorAnswer>().error.code).toBe('not_found');
  });

  test('cancel rejects unknown body keys', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/backtests/00000000-0000-4000-8000-000000000000/cancel',
      headers: AUTH.trader,
      payload: { force: true },
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('POST /v1/bars/import rejects bad input and writes nothing', () => {
  async function importCsv(symbol: string, payload: string | Readable, query = '', type = 'text/csv', app = h.app) {
    return app.inject({
      method: 'POST',
      url: `/v1/bars/import?symbol=${symbol}&timeframe=1d${query}`,
      headers: { ...AUTH.trader, 'content-type': type },
      payload,
    });
  }

  async function stored(symbol: string): Promise<{ bars: number; imports: number }> {
    const bars = await h.db.query<{ n: string }>('SELECT count(*) AS n FROM bars WHERE symbol = $1', [symbol]);
    const imports = await h.db.query<{ n: string }>('SELECT count(*) AS n FROM bar_imports WHERE symbol = $1', [symbol]);
    return { bars: Number(bars.rows[0].n), imports: Number(imports.rows[0].n) };
  }

  const GOOD = 'Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,1000\n';

  test.each([
    ['missing symbol', '/v1/bars/import?timeframe=1d', 'symbol'],
    ['bad symbol', '/v1/bars/import?symbol=a%20b&timeframe=1d', 'symbol'],
    ['missing timeframe', '/v1/bars/import?symbol=X', 'timeframe'],
    ['bad timeframe', '/v1/bars/import?symbol=X&timeframe=1w', 'timeframe'],
    ['bad time zone', '/v1/bars/import?symbol=X&timeframe=1d&tz=Mars/Olympus', 'tz'],
    ['unknown query key', '/v1/bars/import?symbol=X&timeframe=1d&mode=replace', ''],
  ])('%s is a 400', async (_name: string, url: string, path: string) => {
    const res = await h.app.inject({ method: 'POST', url, headers: { ...AUTH.trader, 'content-type': 'text/csv' }, payload: GOOD });
    expect(res.statusCode).toBe(400);
    expectIssue(res.json<ErrorAnswer>(), 'query', path);
  });

  test('a JSON body is a 415', async () => {
    const symbol = uniqueSymbol('V');
    const res = await importCsv(symbol, '{"rows":[]}', '', 'application/json');
    expect(res.statusCode).toBe(415);
    expect(await stored(symbol)).toEqual({ bars: 0, imports: 0 });
  });

  test('an unrecognised header is a 400', async () => {
    const symbol = uniqueSymbol('V');
    const res = await importCsv(symbol, 'when,price\n2020-01-02,10\n');
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorAnswer>();
    expect(body.error.message).toMatch(/header/i);
    expectIssue(body, 'body', 'header');
    expect(await stored(symbol)).toEqual({ bars: 0, imports: 0 });
  });

  test('only garbage rows is a 400 listing the bad lines', async () => {
    const symbol = uniqueSymbol('V');
    const res = await importCsv(symbol, 'Date,Open,High,Low,Close,Volume\n2020-01-02,abc,11,9,10,1\nnot,a,row\n2020-01-03,10,5,9,10,1\n');
    expect(res.statusCode).toBe(400);
    const body = res.json<ErrorAnswer>();
    expect(body.error.message).toMatch(/no valid rows/);
    expect(body.error.issues?.length).toBeGreaterThan(0);
    expect(body.error.issues?.[0].path).toMatch(/^line \d+$/);
    expect(await stored(symbol)).toEqual({ bars: 0, imports: 0 });
  });

  test('an empty body is a 400', async () => {
    const symbol = uniqueSymbol('V');
    const res = await importCsv(symbol, '');
    expect(res.statusCode).toBe(400);
    expect(await stored(symbol)).toEqual({ bars: 0, imports: 0 });
  });

  describe('with MAX_IMPORT_BYTES=1000', () => {
    let small: ApiHarness;
    beforeAll(async () => {
      small = await startApi({ MAX_IMPORT_BYTES: '1000' });
    });
    afterAll(async () => {
      await small?.close();
    });
    const big = GOOD + '2020-01-03,10,11,9,10.5,1000\n'.repeat(200);

    test('a larger body (Content-Length known) is a 413', async () => {
      const symbol = uniqueSymbol('V');
      const res = await importCsv(symbol, big, '', 'text/csv', small.app);
      expect(res.statusCode).toBe(413);
      expect(res.json<ErrorAnswer>().error.code).toBe('payload_too_large');
      expect(await stored(symbol)).toEqual({ bars: 0, imports: 0 });
    });

    test('a larger streamed body (no Content-Length) is a 413', async () => {
      const symbol = uniqueSymbol('V');
      const chunks = Array.from({ length: 50 }, () => '2020-01-03,10,11,9,10.5,1000\n');
      const res = await importCsv(symbol, Readable.from([GOOD, ...chunks]), '', 'text/csv; charset=utf-8', small.app);
      expect(res.statusCode).toBe(413);
      expect(await stored(symbol)).toEqual({ bars: 0, imports: 0 });
    });

    test('a body under the limit is imported', async () => {
      const symbol = uniqueSymbol('V');
      const res = await importCsv(symbol, GOOD, '', 'text/csv', small.app);
      expect(res.statusCode).toBe(200);
      expect(await stored(symbol)).toEqual({ bars: 1, imports: 1 });
    });
  });
});

test('no rejected request created a job or started a workflow', async () => {
  expect(await countJobs(h.db)).toBe(jobsBefore);
  expect(await countBacktestWorkflows(h)).toBe(workflowsBefore);
});
