import { Writable } from 'node:stream';
import type { Pool } from 'pg';
import { buildApp } from '../../clients/api/app';
import { createLogger } from '../../workers/logger';
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
    ['DELETE', '/v1/backtests', AUTH.admin, 404],
  ] as const) {
    const res = await h.app.inject({ method, url, headers });
    expect(res.statusCode).toBe(status);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    if (status >= 400) expect(Object.keys(res.json<{ error: object }>().error).sort()).toEqual(expect.arrayContaining(['code', 'message']));
  }
});
