/**
 * R4 inside one process: a Redis of this test's own (no persistence, so a restart comes back empty) is stopped
 * and killed under the worker heartbeat, the recent-bars reads and the API's /health. Redis holds only a cache
 * and heartbeats: reads fall back to Postgres within 2 s, heartbeats are written again as soon as Redis returns,
 * and /health names Redis while it is down. The end-to-end version is `npm run chaos -- r4`.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createMarketDataActivities, type LoadRecentBarsInput, type LoadRecentBarsResult } from '../../activities/market-data';
import { buildApp } from '../../clients/api/app';
import { connectTemporal } from '../../platform/temporal';
import { BarCache } from '../../marketdata/cache';
import { barsToColumns } from '../../marketdata/port';
import { startRedis, type ManagedService } from '../../harness/stack';
import type { Config } from '../../platform/config';
import { createPgPool, createRedis, redisReady } from '../../platform/deps';
import { startWorkerHeartbeat, WORKER_HEARTBEAT_PREFIX } from '../../platform/heartbeat';
import { createLogger } from '../../platform/logger';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { waitFor } from '../helpers/processes';
import { STACK_FILE, testConfig } from '../helpers/stack';
import { bars, memoryLogger } from '../marketdata/helpers';
import { AUTH } from '../api/harness';

const DIR = path.join(path.dirname(STACK_FILE), 'resilience', 'redis');
const MIN = 60_000;
/** Tuesday 2024-01-02 09:30 New York */
const OPEN = Date.UTC(2024, 0, 2, 14, 30);

let server: ManagedService;
let config: Config;
const clients: Redis[] = [];

/** A Redis client built as the workers build theirs, closed after the file. */
function workerRedis(): Redis {
  const r = createRedis(config, createLogger('silent'));
  clients.push(r);
  return r;
}

beforeAll(async () => {
  server = await startRedis({ dataDir: DIR, logFile: path.join(DIR, '..', 'redis.log'), persist: false });
  config = testConfig({ REDIS_URL: server.url });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

afterEach(async () => {
  if (!server.running()) await server.start();
});

test('a worker heartbeat survives an outage and is written again as soon as Redis returns (not at the next 10 s beat)', async () => {
  const redis = workerRedis();
  await redisReady(redis, 5_000);
  const errors: Error[] = [];
  const beat = startWorkerHeartbeat(redis, TASK_QUEUES.io, `resilience-${randomUUID()}`, (e) => errors.push(e));
  const probe = workerRedis();
  await redisReady(probe, 5_000);
  try {
    await waitFor('the first beat', async () => (await probe.exists(beat.key)) === 1, 5_000);
    await server.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    await server.start(); // empty: no persistence
    const upAt = Date.now();
    await redisReady(probe, 10_000);
    await waitFor('the heartbeat key after the return', async () => (await probe.exists(beat.key)) === 1, 6_000);
    expect(Date.now() - upAt).toBeLessThan(6_000);
    expect(JSON.parse((await probe.get(beat.key))!)).toMatchObject({ queue: TASK_QUEUES.io, pid: process.pid });
    expect(await probe.ttl(beat.key)).toBeGreaterThan(20);
  } finally {
    await beat.stop();
  }
  expect(await probe.exists(beat.key)).toBe(0);
});

describe('recent bars', () => {
  const symbol = uniqueSymbol('RS');
  const series = bars(400, OPEN - 400 * MIN, MIN);
  const input: LoadRecentBarsInput = { symbol, timeframe: '1m', limit: 300, asOfMs: OPEN - MIN, maxStaleBars: 2 };
  const pool = testPool();
  afterAll(() => pool.end());

  test.each([
    ['stopped', () => server.stop()],
    ['killed (SIGKILL)', () => server.kill('SIGKILL')],
  ])('come from the cache while Redis is up and from Postgres within 2 s while it is %s', async (_how, fault) => {
    await storeBars(pool, symbol, '1m', barsToColumns(series)); // a second import inserts nothing
    const redis = workerRedis();
    await redisReady(redis, 5_000);
    await new BarCache(redis).replaceBars(symbol, '1m', series);
    const md = createMarketDataActivities({ db: pool, redis });
    const log = memoryLogger();
    const env = new MockActivityEnvironment({}, { logger: log.logger });
    const load = () => env.run<[LoadRecentBarsInput], LoadRecentBarsResult, typeof md.loadRecentBars>(md.loadRecentBars, input);

    expect(await load()).toMatchObject({ source: 'redis', stale: false });
    await fault();
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await load();
      expect(r).toMatchObject({ source: 'postgres', stale: false });
      expect(r.bars).toHaveLength(300);
      expect(Date.now() - t0).toBeLessThan(2_000);
    }
    // One warning for the outage, not one per read (every cycle of every deployment reads).
    expect(log.entries.filter((e) => e.level === 'WARN' && /redis unavailable, reading postgres/.test(e.message))).toHaveLength(1);
    await server.start();
    await redisReady(redis, 10_000);
    // The restarted Redis is empty: the short cache is passed over for Postgres, never trusted.
    expect(await load()).toMatchObject({ source: 'postgres', stale: false });
  });
});

describe('/health', () => {
  let app: FastifyInstance;
  let redis: Redis;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const logger = createLogger('silent');
    const db = createPgPool(config, logger, 'resilience-api');
    redis = workerRedis();
    await redisReady(redis, 5_000);
    const { client, connection } = await connectTemporal(config);
    app = await buildApp({ config, db, redis, temporal: client, logger });
    await app.ready();
    // One heartbeat per queue, each on its own client, as in the worker processes.
    const beats = [TASK_QUEUES.cpu, TASK_QUEUES.io].map((q) => startWorkerHeartbeat(workerRedis(), q, `resilience-${q}-${randomUUID()}`, () => undefined));
    close = async () => {
      await Promise.all(beats.map((b) => b.stop()));
      await app.close();
      await Promise.allSettled([db.end(), connection.close()]);
    };
  });
  afterAll(() => close?.());

  // with a key: without one /health says only up, degraded or down
  const health = async () => {
    const res = await app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
    return { code: res.statusCode, body: res.json<{ status: string; down: string[]; checks: { workers: { ok: boolean; error?: string } } }>() };
  };

  test.each([
    ['stopped', () => server.stop()],
    ['killed (SIGKILL)', () => server.kill('SIGKILL')],
  ])('names redis within 5 s of it being %s, and is ok within 10 s of its return', async (_how, fault) => {
    await waitFor('/health ok before the fault', async () => (await health()).code === 200, 15_000);
    const downAt = Date.now();
    await fault();
    const down = await waitFor('/health to name redis', async () => {
      const h = await health();
      return h.body.down.includes('redis') ? h : undefined;
    }, 5_000);
    expect(Date.now() - downAt).toBeLessThan(5_000);
    expect(down).toMatchObject({ code: 503, body: { status: 'degraded', down: ['redis'], checks: { workers: { ok: false, error: expect.stringMatching(/unknown/) } } } });

    await server.start(); // empty: the workers' keys come back only with their next beats
    const upAt = Date.now();
    await waitFor('/health ok after the return', async () => (await health()).code === 200, 10_000);
    expect(Date.now() - upAt).toBeLessThan(10_000);
    expect((await health()).body.down).toEqual([]);
    // The keys were rewritten on reconnect, not left over from before the outage.
    expect(await redis.keys(`${WORKER_HEARTBEAT_PREFIX}*`)).toHaveLength(2);
  });
});
