import { Writable } from 'node:stream';
import type { Pool } from 'pg';
import { buildApp } from '../../clients/api/app';
import { createLogger } from '../../platform/logger';
import { TEST_KEYS } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h?.close();
});

test('an unexpected failure is an opaque 500 with a request id; the detail goes to the log only', async () => {
  const logs: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (logs.push(chunk.toString()), cb()) });
  const failingDb = {
    query: async () => {
      throw new Error('relation "secret_internal_table" does not exist');
    },
  } as unknown as Pool;
  const app = await buildApp({ ...h.deps, db: failingDb, logger: createLogger('info', {}, sink) });
  try {
    const res = await app.inject({ method: 'GET', url: '/v1/bars', headers: AUTH.viewer });
    expect(res.statusCode).toBe(500);
    const body = res.json<{ error: { code: string; message: string; requestId: string } }>();
    expect(body).toEqual({ error: { code: 'internal', message: 'internal error', requestId: expect.any(String) } });
    expect(res.headers['x-request-id']).toBe(body.error.requestId);
    expect(res.body).not.toMatch(/secret_internal_table|stack|\.ts:\d+/);

    const logged = logs.join('');
    expect(logged).toContain('secret_internal_table');
    expect(logged).toContain(body.error.requestId);
    expect(logged).not.toContain(TEST_KEYS.viewer); // the key is never logged, even with the request
  } finally {
    await app.close();
  }
});

test('every answer carries x-request-id, and errors share one shape', async () => {
  for (const [method, url, headers, status] of [
    ['GET', '/v1/bars', AUTH.viewer, 200],
    ['GET', '/v1/bars', {}, 401],
    ['POST', '/v1/backtests', AUTH.viewer, 403],
    ['GET', '/nowhere', {}, 404],
    ['DELETE', '/v1/backtests', AUTH.admin, 405],
  ] as const) {
    const res = await h.app.inject({ method, url, headers });
    expect(res.statusCode).toBe(status);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    if (status >= 400) expect(Object.keys(res.json<{ error: object }>().error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
  }
});

describe('one error shape for every error, whoever answers it, and no echo of the URL or the input', () => {
  const CANARY = 'canary-b2e4c6';
  const UUID = /^[0-9a-f-]{36}$/;

  function expectShape(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string) {
    expect(res.statusCode).toBe(status);
    const body = JSON.parse(res.body) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toEqual({ code, message: expect.any(String), requestId: expect.stringMatching(UUID), ...('issues' in body.error ? { issues: expect.any(Array) } : {}) });
    expect(res.headers['x-request-id']).toBe(body.error.requestId);
    expect(res.body).not.toContain(CANARY);
  }

  test.each([
    ['an unknown route', { method: 'GET', url: `/nowhere/${CANARY}?q=${CANARY}` }, 404, 'not_found'],
    ['an unknown method on a known route (405 with Allow)', { method: 'DELETE', url: `/v1/backtests?x=${CANARY}` }, 405, 'method_not_allowed'],
    ['a path parameter over maxParamLength', { method: 'GET', url: `/v1/backtests/${CANARY}${'x'.repeat(200)}` }, 414, 'uri_too_long'],
    ['JSON with a syntax error', { method: 'POST', url: '/v1/backtests', headers: { ...AUTH.trader, 'content-type': 'application/json' }, payload: `{"symbol": ${CANARY}` }, 400, 'invalid_json'],
    ['an unsupported content type', { method: 'POST', url: '/v1/backtests', headers: { ...AUTH.trader, 'content-type': `application/${CANARY}` }, payload: CANARY }, 415, 'unsupported_media_type'],
    ['a JSON body over 1 MiB', { method: 'POST', url: '/v1/backtests', headers: { ...AUTH.trader, 'content-type': 'application/json' }, payload: JSON.stringify({ symbol: CANARY, pad: 'x'.repeat(1_100_000) }) }, 413, 'payload_too_large'],
    ['a CSV header it cannot read', { method: 'POST', url: '/v1/bars/import?symbol=ECHO&timeframe=1d', headers: { ...AUTH.trader, 'content-type': 'text/csv' }, payload: `${CANARY},b\n1,2\n` }, 400, 'invalid_request'],
    ['an unknown key', { method: 'GET', url: '/v1/bars', headers: { authorization: `Bearer ${CANARY}-not-a-key` } }, 401, 'unauthorized'],
  ] as const)('%s', async (_name, request, status, code) => {
    const res = await h.app.inject(request as never);
    expectShape(res, status, code);
    if (status === 405) expect(res.headers.allow).toBe('GET, HEAD, POST');
  });

  test('a malformed URL escape is refused by the router itself (its own answer would quote the path)', async () => {
    const res = await h.app.inject({ method: 'GET', url: `/v1/backtests/${CANARY}%E0%A4`, headers: AUTH.viewer });
    expectShape(res, 400, 'invalid_request');
    expect(res.json<{ error: { message: string } }>().error.message).toBe('the URL is not valid');
  });

  test('requests that arrive while the API closes: 503 with Retry-After, in the same shape', async () => {
    const app = await buildApp(h.deps);
    let answer: { statusCode: number; headers: Record<string, string>; body: string } | undefined;
    // preClose hooks run after closing began and before the server stops listening: a request sent from here
    // arrives at a closing API (Fastify's own answer then would be its own 503 body)
    app.addHook('preClose', async () => {
      const res = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/bars`, { headers: AUTH.viewer });
      answer = { statusCode: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    await app.close();
    expectShape(answer!, 503, 'unavailable');
    expect(answer!.headers['retry-after']).toBe('5');
  });

  describe('on a listening server: what Node answers before Fastify sees the request', () => {
    let url: URL;
    beforeAll(async () => {
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      url = new URL(`http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`);
    });

    /** Sends raw bytes and reads the whole answer (the server closes the connection after an error). */
    async function raw(request: string): Promise<{ statusCode: number; headers: Record<string, string>; body: string }> {
      const { connect } = await import('node:net');
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => socket.end(request));
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      return { statusCode: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
    }

    test('a URL longer than the header limit is a 414 from the HTTP parser, in the same shape', async () => {
      const res = await raw(`GET /v1/bars?${CANARY}=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expectShape(res, 414, 'uri_too_long');
    });

    test('headers over the limit are a 431, in the same shape', async () => {
      const res = await raw(`GET /v1/bars HTTP/1.1\r\nHost: x\r\nx-pad: ${CANARY}${'b'.repeat(20_000)}\r\n\r\n`);
      expectShape(res, 431, 'headers_too_large');
    });

    test('a request the parser cannot read is a 400, in the same shape', async () => {
      const res = await raw(`GET /v1/bars HTTP/1.1\r\nHost: x\r\nContent-Length: ${CANARY}\r\n\r\n`);
      expectShape(res, 400, 'invalid_request');
    });
  });
});
