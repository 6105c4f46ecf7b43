/**
 * R3 inside one process: a Postgres of this test's own (same port across kill/stop/start) goes away under the pg
 * pools the workers and the API use (platform/deps.ts createPgPool), under the API's /health and data routes, and
 * under the activities. Nothing may crash the process; every failure must be a retryable error or a 503; all of it
 * must work again once Postgres is back. The end-to-end version is `npm run chaos -- r3`.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Connection, Client as TemporalClient } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { Client, Pool } from 'pg';
import { createDeploymentActivities } from '../../activities/deployments';
import { createMarketDataActivities, type LoadRecentBarsInput, type LoadRecentBarsResult } from '../../activities/market-data';
import { buildApp } from '../../clients/api/app';
import { migrateInChild, startPostgres, type ManagedService } from '../../harness/stack';
import type { Config } from '../../platform/config';
import { createPgPool, createRedis, redisReady } from '../../platform/deps';
import { startWorkerHeartbeat } from '../../platform/heartbeat';
import { createLogger } from '../../platform/logger';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { AUTH } from '../api/harness';
import { memoryLogger } from '../marketdata/helpers';
import { waitFor } from '../helpers/processes';
import { STACK_FILE, testConfig } from '../helpers/stack';

const DIR = path.join(path.dirname(STACK_FILE), 'resilience', 'pg');

let pg: ManagedService;
let config: Config;

beforeAll(async () => {
  pg = await startPostgres({ dataDir: DIR, logFile: path.join(DIR, '..', 'pg.log') });
  const dbName = `resilience_${Date.now()}`;
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
  } finally {
    await admin.end();
  }
  const u = new URL(pg.url);
  u.pathname = `/${dbName}`;
  config = testConfig({ DATABASE_URL: u.toString() });
  await migrateInChild(config.DATABASE_URL, config.REDIS_URL);
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

/** A pino logger whose lines this test can read. */
function capturedLogger() {
  const lines: string[] = [];
  const destination = { write: (line: string) => void lines.push(line) } as unknown as Writable;
  return { lines, logger: createLogger('debug', {}, destination) };
}

test('idle clients and a client checked out inside a transaction lose their server without crashing the process; the pool serves again after the restart', async () => {
  const { lines, logger } = capturedLogger();
  const pool = createPgPool(config, logger, 'resilience-test');
  // Negative control: a plain pool's checked-out client has no 'error' listener, so this same fault would throw
  // "Unhandled 'error' event" out of the socket callback and end the process (what `npm run chaos -- r3` first found).
  const plain = new Pool({ connectionString: config.DATABASE_URL, max: 1 });
  try {
    const plainHeld = await plain.connect();
    expect(plainHeld.listenerCount('error')).toBe(0);
    plainHeld.release();
  } finally {
    await plain.end();
  }
  try {
    await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)'))); // idle clients in the pool
    const held = await pool.connect();
    // Like the kill-switch gate: a transaction kept open across a broker call.
    await held.query('BEGIN');
    expect(held.listenerCount('error')).toBeGreaterThan(0);

    await pg.kill('SIGKILL');
    await waitFor('the held client to learn that its server is gone', async () => lines.some((l) => l.includes('postgres connection lost')), 10_000);
    await expect(held.query('COMMIT')).rejects.toThrow();
    held.release();
    await expect(pool.query('SELECT 1')).rejects.toThrow();

    await pg.start();
    await expect(pool.query<{ one: number }>('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    const after = await pool.connect();
    try {
      await after.query('BEGIN');
      await after.query('COMMIT');
    } finally {
      after.release();
    }
  } finally {
    if (!pg.running()) await pg.start();
    await pool.end();
  }
});

describe('the API while Postgres is down', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const logger = createLogger('silent');
    const db = createPgPool(config, logger, 'resilience-api');
    const redis = createRedis(config, logger);
    await redisReady(redis, 5_000);
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    app = await buildApp({ config, db, redis, temporal: new TemporalClient({ connection, namespace: config.TEMPORAL_NAMESPACE }), logger });
    await app.ready();
    // Live workers on both queues, so the only thing /health can find wrong is Postgres.
    const beats = [TASK_QUEUES.cpu, TASK_QUEUES.io].map((q) => startWorkerHeartbeat(redis, q, `resilience-${q}-${randomUUID()}`, () => undefined));
    close = async () => {
      await Promise.all(beats.map((b) => b.stop()));
      await app.close();
      redis.disconnect();
      await Promise.allSettled([db.end(), connection.close()]);
    };
  });
  afterAll(async () => {
    if (!pg.running()) await pg.start();
    await close?.();
  });

  // with a key: without one /health says only up, degraded or down
  const health = async () => {
    const res = await app.inject({ method: 'GET', url: '/health', headers: AUTH.viewer });
    return { code: res.statusCode, body: res.json<{ status: string; down: string[]; checks: { postgres: { ok: boolean; error?: string } } }>() };
  };

  test.each([
    ['stopped cleanly', () => pg.stop()],
    ['killed (SIGKILL)', () => pg.kill('SIGKILL')],
  ])('%s: /health is 503 naming postgres, data routes are 503 with Retry-After, and both recover within 5 s of its return', async (_how, fault) => {
    await waitFor('/health ok before the fault', async () => (await health()).code === 200, 10_000);
    await fault();
    const down = await health();
    expect(down.code).toBe(503);
    expect(down.body).toMatchObject({ status: 'down', down: ['postgres'], checks: { postgres: { ok: false, error: expect.any(String) } } });
    const orders = await app.inject({ method: 'GET', url: '/v1/orders', headers: AUTH.viewer });
    expect(orders.statusCode).toBe(503);
    expect(orders.headers['retry-after']).toBeDefined();
    expect(orders.json()).toEqual({ error: { code: 'unavailable', message: expect.any(String), requestId: orders.headers['x-request-id'] } });

    await pg.start();
    const upAt = Date.now();
    await waitFor('/health ok after the return', async () => (await health()).code === 200, 5_000);
    const ok = await app.inject({ method: 'GET', url: '/v1/orders', headers: AUTH.viewer });
    expect(ok.statusCode).toBe(200);
    expect(Date.now() - upAt).toBeLessThan(5_000);
  });
});

test('activities fail with retryable errors while Postgres is down and succeed, once, after its return', async () => {
  const logger = createLogger('silent');
  const db = createPgPool(config, logger, 'resilience-activities');
  const redis = createRedis({ ...config, REDIS_URL: 'redis://127.0.0.1:1' }, logger); // no cache either: Postgres is the only source
  const env = new MockActivityEnvironment({}, { logger: memoryLogger().logger });
  const deployments = createDeploymentActivities({ db });
  const md = createMarketDataActivities({ db, redis });
  const deploymentId = randomUUID();
  const record = {
    deploymentId, paramsVersion: 1, latencyMs: 5, positions: {}, totalPnl: 0,
    record: { cycle: 1, barClose: Date.UTC(2025, 2, 4, 15), symbol: 'RESIL', action: 'hold' as const, clientOrderIds: [] },
  };
  const bars: LoadRecentBarsInput = { symbol: 'RESIL', timeframe: '1m', limit: 10, asOfMs: Date.UTC(2025, 2, 4, 15), maxStaleBars: 2 };
  try {
    await pg.stop();
    const t0 = Date.now();
    const err = await env.run(deployments.recordCycle, record).then(() => undefined, (e: unknown) => e);
    // A plain error (the connection refused), not a non-retryable ApplicationFailure: the dbWrite preset retries it.
    expect(err).toMatchObject({ message: expect.stringMatching(/ECONNREFUSED|connect/) });
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    const mdErr = await env.run<[LoadRecentBarsInput], LoadRecentBarsResult, typeof md.loadRecentBars>(md.loadRecentBars, bars).then(() => undefined, (e: unknown) => e);
    expect(mdErr).toBeInstanceOf(ApplicationFailure);
    expect(mdErr).toMatchObject({ type: 'MarketDataUnavailable', nonRetryable: false });
    expect(Date.now() - t0).toBeLessThan(5_000);

    await pg.start();
    await env.run(deployments.recordCycle, record);
    await env.run(deployments.recordCycle, record); // the retry after an ambiguous first attempt changes nothing
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployment_cycles WHERE deployment_id = $1', [deploymentId]);
    expect(rows.rows[0]!.n).toBe(1);
    await expect(env.run<[LoadRecentBarsInput], LoadRecentBarsResult, typeof md.loadRecentBars>(md.loadRecentBars, bars)).resolves.toMatchObject({ source: 'postgres', bars: [] });
  } finally {
    if (!pg.running()) await pg.start();
    redis.disconnect();
    await db.end();
  }
});
