import type { Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { buildApp } from '../../clients/api/app';
import type { ApiDeps } from '../../clients/api/deps';
import { connectTemporal, ensureSearchAttributes } from '../../platform/temporal';
import type { Config } from '../../platform/config';
import { createPgPool, createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { TEST_KEYS, testConfig } from '../helpers/stack';

export interface ApiHarness {
  app: FastifyInstance;
  deps: ApiDeps;
  db: Pool;
  redis: Redis;
  connection: Connection;
  close(): Promise<void>;
}

/** The API against the real test servers (Postgres, Redis, Temporal dev server), driven with `app.inject()`. */
export async function startApi(overrides: Record<string, string> = {}, opts: { waitForRedis?: boolean } = {}): Promise<ApiHarness> {
  const config: Config = testConfig(overrides);
  const logger = createLogger('silent');
  const db = createPgPool(config, logger, 'api-test');
  const redis = createRedis(config, logger);
  if (opts.waitForRedis !== false) await redisReady(redis, 5_000);
  const { client: temporal, connection } = await connectTemporal(config);
  await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
  const deps: ApiDeps = { config, db, redis, temporal, logger };
  const app = await buildApp(deps);
  await app.ready();
  return {
    app,
    deps,
    db,
    redis,
    connection,
    async close() {
      await app.close();
      redis.disconnect();
      await Promise.allSettled([db.end(), connection.close()]);
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
export const AUTH = {
  viewer: bearer(TEST_KEYS.viewer),
  trader: bearer(TEST_KEYS.trader),
  approver: bearer(TEST_KEYS.approver),
  admin: bearer(TEST_KEYS.admin),
} as const;

/** Rows in backtest_jobs, to show a rejected request started nothing. */
export async function countJobs(db: Pool): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM backtest_jobs');
  return Number(rows[0].n);
}

/** Backtest workflows the Temporal server knows of (visibility query). */
export async function countBacktestWorkflows(h: ApiHarness): Promise<number> {
  const { count } = await h.deps.temporal.workflow.count('WorkflowType="backtestWorkflow"');
  return count;
}
