import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { testPool } from './db';
import { testStack } from './stack';

interface TradingEnvironment {
  /** `<accountPrefix>-<8 hex>`: a paper account no other file uses; set at once */
  readonly account: string;
  pool: Pool;
  /** fails fast (one retry, no offline queue, 1 s per command) rather than hanging a test on a lost server */
  redis: Redis;
  /** the real paper broker process for `account`, with 1e7 of cash */
  paper: PaperBrokerProcess;
}

interface TimeSkippingTradingEnvironment extends TradingEnvironment {
  /** one time-skipping test server (the stack's) for the whole file */
  env: TestWorkflowEnvironment;
}

interface Options {
  accountPrefix: string;
  /** false: no time-skipping server for the file (tests that need a fresh one per day-run start their own) */
  timeSkipping?: boolean;
  /** runs first in afterAll, while the pool, Redis, the paper broker and the test server are still up */
  beforeTeardown?: (ctx: TradingEnvironment) => Promise<unknown>;
}

/**
 * Registers beforeAll/afterAll for the real parts a trading test file uses: Postgres, Redis, a paper broker for a
 * fresh account and (unless `timeSkipping: false`) a time-skipping environment. The fields of the returned object are
 * filled in beforeAll (all but `account`): read them inside hooks and tests, never at module load.
 */
export function useTradingEnvironment(options: Options & { timeSkipping: false }): TradingEnvironment;
export function useTradingEnvironment(options: Options & { timeSkipping?: true }): TimeSkippingTradingEnvironment;
export function useTradingEnvironment({ accountPrefix, timeSkipping = true, beforeTeardown }: Options): TradingEnvironment {
  const ctx = { account: `${accountPrefix}-${randomUUID().slice(0, 8)}` } as Partial<TimeSkippingTradingEnvironment> & { account: string };

  beforeAll(async () => {
    const stack = testStack();
    if (timeSkipping) {
      ctx.env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: stack.TIME_SKIPPING_SERVER } } });
    }
    ctx.pool = testPool();
    ctx.redis = new Redis(stack.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000 });
    ctx.paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account: ctx.account, initialCash: 1e7 });
  });

  afterAll(async () => {
    await beforeTeardown?.(ctx as TradingEnvironment);
    await ctx.paper?.stop();
    ctx.redis?.disconnect();
    await ctx.pool?.end();
    await ctx.env?.teardown();
  });

  return ctx as TimeSkippingTradingEnvironment;
}
