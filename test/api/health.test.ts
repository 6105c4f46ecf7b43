import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../../clients/api/app';
import { getBacktestJob } from '../../db/sql/backtest-jobs';
import { createPgPool, createRedis } from '../../platform/deps';
import { startWorkerHeartbeat } from '../../platform/heartbeat';
import { createLogger } from '../../platform/logger';
import { AlpacaBroker } from '../../brokers';
import { guardBroker } from '../../brokers/guard';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { testConfig } from '../helpers/stack';
import { AUTH, startApi, type ApiHarness } from './harness';

interface HealthBody {
  status: 'up' | 'degraded' | 'down';
  down: Array<'temporal' | 'postgres' | 'redis' | 'workers'>;
  checks: {
    temporal: { ok: boolean; latencyMs: number; error?: string };
    postgres: { ok: boolean; latencyMs: number; error?: string };
    redis: { ok: boolean; latencyMs: number; error?: string };
    workers: { cpu: number; io: number; ok: boolean; error?: string };
  };
  version: string;
}

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('GET /health with every dependency up', () => {
  let h: ApiHarness;
  const beats: Array<{ stop(): Promise<void> }> = [];
  beforeAll(async () => {
    h = await startApi();
  });
  afterAll(async () => {
    await Promise.all(beats.map((b) => b.stop()));
    await h?.close();
  });

  test('is 200 and ok with live workers on both queues', async () => {
    for (const q of [TASK_QUEUES.cpu, TASK_QUEUES.io]) beats.push(startWorkerHeartbeat(h.redis, q, `health-test-${q}-${randomUUID()}`, () => undefined));
    await new Promise((r) => setTimeout(r, 200));
    const res = await h.app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
    expect(res.statusCode).toBe(200);
    const body = res.json<HealthBody>();
    expect(body).toEqual({
      status: 'up',
      down: [],
      checks: {
        temporal: { ok: true, latencyMs: expect.any(Number) },
        postgres: { ok: true, latencyMs: expect.any(Number) },
        redis: { ok: true, latencyMs: expect.any(Number) },
        workers: { cpu: expect.any(Number), io: expect.any(Number), ok: true },
      },
      brokers: { guards: expect.any(Array) },
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(body.checks.workers.cpu).toBeGreaterThanOrEqual(1);
    expect(body.checks.workers.io).toBeGreaterThanOrEqual(1);
  });

  test('an open broker circuit shows under brokers, and does not make the API unhealthy', async () => {
    for (const q of [TASK_QUEUES.cpu, TASK_QUEUES.io]) beats.push(startWorkerHeartbeat(h.redis, q, `health-test-${q}-${randomUUID()}`, () => undefined));
    // A broker nobody listens on: every call is a connection failure, which the shared breaker counts.
    const key = `paper:health-${randomUUID().slice(0, 8)}`;
    const broker = guardBroker(new AlpacaBroker({ baseUrl: 'http://127.0.0.1:1', credentials: () => ({ keyId: 'k', secretKey: 's' }), timeoutMs: 500 }), {
      redis: h.redis, logger: { debug: () => undefined, info: () => undefined, warn: () => undefined }, key, breaker: { failures: 2, failureRatio: 0.5, windowMs: 60_000, cooldownMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) await broker.getAccount().catch(() => undefined);
    const res = await h.app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
    const body = res.json<HealthBody & { brokers: { guards: Array<{ key: string; state: string; openForMs: number; failuresInWindow: number }> } }>();
    expect(res.statusCode).toBe(200);
    expect(body.status).toBe('up');
    const guard = body.brokers.guards.find((g) => g.key === key);
    expect(guard).toMatchObject({ state: 'open', failuresInWindow: 2 });
    expect(guard!.openForMs).toBeGreaterThan(0);
  });

  test('without a key: the status alone, no checks, errors, broker state or version', async () => {
    for (const q of [TASK_QUEUES.cpu, TASK_QUEUES.io]) beats.push(startWorkerHeartbeat(h.redis, q, `health-test-${q}-${randomUUID()}`, () => undefined));
    await new Promise((r) => setTimeout(r, 200));
    const res = await h.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'up' });
  });

  test('with an unknown key: 401 (send no key for the status alone)', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer wrong-key-0000000000000' } });
    expect(res.statusCode).toBe(401);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('unauthorized');
  });
});

describe('dependency outages', () => {
  test('no live worker on a queue (Redis up): 503 degraded naming the workers', async () => {
    // An empty Redis database: nobody's heartbeat is there.
    const h = await startApi({ REDIS_URL: `${testConfig().REDIS_URL.replace(/\/\d*$/, '')}/9` });
    try {
      const cpuOnly = startWorkerHeartbeat(h.redis, TASK_QUEUES.cpu, `health-test-cpu-only-${randomUUID()}`, () => undefined);
      await new Promise((r) => setTimeout(r, 200));
      try {
        const res = await h.app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
        expect(res.statusCode).toBe(503);
        const body = res.json<HealthBody>();
        expect(body).toMatchObject({ status: 'degraded', down: ['workers'], checks: { workers: { cpu: 1, io: 0, ok: false }, redis: { ok: true }, postgres: { ok: true } } });
      } finally {
        await cpuOnly.stop();
      }
    } finally {
      await h.close();
    }
  });

  test('Redis on a closed port: /health is 503 degraded within the timeout, and names no secret', async () => {
    const port = await closedPort();
    const h = await startApi({ REDIS_URL: `redis://:s3cret-redis-pass@127.0.0.1:${port}` }, { waitForRedis: false });
    try {
      const t0 = Date.now();
      const res = await h.app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(res.statusCode).toBe(503);
      const body = res.json<HealthBody>();
      expect(body.status).toBe('degraded');
      // Redis is what is down; the workers are unknown (their heartbeats live in Redis), not named as down.
      expect(body.down).toEqual(['redis']);
      expect(body.checks.redis.ok).toBe(false);
      expect(body.checks.redis.error).toEqual(expect.any(String));
      expect(body.checks.workers.ok).toBe(false);
      expect(body.checks.workers.error).toMatch(/unknown.*redis/);
      expect(body.checks.postgres.ok).toBe(true);
      expect(body.checks.temporal.ok).toBe(true);
      expect(res.body).not.toContain('s3cret-redis-pass');
      // without a key, only the status: no error text (which could quote a URL) at all
      const open = await h.app.inject({ method: 'GET', url: '/health' });
      expect(open.statusCode).toBe(503);
      expect(open.json()).toEqual({ status: 'degraded' });
    } finally {
      await h.close();
    }
  });

  test('Postgres unreachable: /health reports it and data routes answer 503 with Retry-After', async () => {
    const port = await closedPort();
    const config = testConfig({ DATABASE_URL: `postgres://trader:s3cret-pg-pass@127.0.0.1:${port}/nothing` });
    const logger = createLogger('silent');
    const db = createPgPool(config, logger, 'api-test');
    const redis = createRedis(config, logger);
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    const app = await buildApp({ config, db, redis, temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), logger });
    try {
      const health = await app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
      expect(health.statusCode).toBe(503);
      expect(health.json<HealthBody>().status).toBe('down');
      expect(health.json<HealthBody>().checks.postgres.ok).toBe(false);
      expect(health.json<HealthBody>().down).toContain('postgres');
      expect(health.json<HealthBody>().down).not.toContain('redis');
      expect(health.body).not.toContain('s3cret-pg-pass');
      expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'down' });

      for (const url of ['/v1/bars', '/v1/backtests']) {
        const res = await app.inject({ method: 'GET', url, headers: AUTH.viewer });
        expect(res.statusCode).toBe(503);
        expect(res.headers['retry-after']).toBeDefined();
        expect(res.json()).toEqual({ error: { code: 'unavailable', message: expect.any(String), requestId: res.headers['x-request-id'] } });
        expect(res.body).not.toContain('s3cret-pg-pass');
      }
    } finally {
      await app.close();
      redis.disconnect();
      await Promise.allSettled([db.end(), connection.close()]);
    }
  });

  test('Temporal unreachable: /health is 503 within ~2 s; starting a backtest is a 503 and the job is marked failed', async () => {
    const port = await closedPort();
    const config = testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    const logger = createLogger('silent');
    const db = createPgPool(config, logger, 'api-test');
    const redis = createRedis(config, logger);
    const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
    const app = await buildApp({ config, db, redis, temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), logger });
    try {
      const t0 = Date.now();
      const health = await app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
      expect(Date.now() - t0).toBeLessThan(4_000);
      expect(health.statusCode).toBe(503);
      expect(health.json<HealthBody>().status).toBe('down');
      expect(health.json<HealthBody>().checks.temporal.ok).toBe(false);
      expect(health.json<HealthBody>().down).toContain('temporal');

      const res = await app.inject({ method: 'POST', url: '/v1/backtests', headers: AUTH.trader, payload: { symbol: 'DOWN', strategy: 'sma-cross' } });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      const { rows } = await db.query<{ id: string }>(
        "SELECT id FROM backtest_jobs WHERE symbol = 'DOWN' AND created_at > now() - interval '1 minute' ORDER BY created_at DESC LIMIT 1",
      );
      expect(rows).toHaveLength(1);
      expect((await getBacktestJob(db, rows[0].id))?.status).toBe('failed');
    } finally {
      await app.close();
      redis.disconnect();
      await Promise.allSettled([db.end(), connection.close()]);
    }
  });
});

