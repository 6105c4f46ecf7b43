/**
 * The ordering of deployment cycles with their live feed (loadCycleInputs, the cycle's one local activity, with the
 * real IO activities on real Postgres, Redis and the paper broker): a cycle waits up to its bound for the feed's
 * watermark to reach its bar close, then skips every symbol with a stale-data reason; once the feed has published
 * the bar, a symbol whose bar did not come is skipped as stale-data and the others decide on their new bar.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { CycleInputs, CycleInputsArgs } from '../../activities/cycle';
import { createIoActivities } from '../../activities/io';
import { paperBrokerPort } from '../../brokers';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { upsertFeed } from '../../db/sql/market-data-feeds';
import { barsToColumns } from '../../marketdata/port';
import { publishWatermark } from '../../marketdata/watermark';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { bars } from './helpers';

const MIN = 15 * 60_000;
const Z = (iso: string) => Date.parse(`${iso}Z`);
/** Thursday 2024-03-07: 15m bars from 09:30 New York; the cycle decides at the close of 11:15-11:30 */
const OPEN = Z('2024-03-07T14:30');
const BAR_CLOSE = OPEN + 8 * MIN;

let pool: Pool;
let redis: Redis;
let paper: PaperBrokerProcess;

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  redis = new Redis(stack.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1_000 });
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account: `md-wait-${randomUUID().slice(0, 8)}`, initialCash: 1e6 });
  // a new clock key forgets the feed's watermark in Postgres; Redis keeps it across runs, so it goes too
  await upsertFeed(pool, { provider: 'replay', timeframe: '15m', calendar: 'XNYS', settleMs: 0, clock: null, clockKey: randomUUID() });
  await redis.del('md:watermark:replay:15m');
});

afterAll(async () => {
  await paper?.stop();
  redis?.disconnect();
  await pool?.end();
});

function load(symbols: string[], waitMs: number): Promise<CycleInputs> {
  const acts = createIoActivities({ db: pool, redis, brokers: { paper: paperBrokerPort(paper.url) } });
  const args: CycleInputsArgs = {
    deploymentId: randomUUID(),
    broker: 'paper',
    accountId: 'md-wait',
    symbols,
    bars: { timeframe: '15m', limit: 5, asOfMs: BAR_CLOSE - MIN, maxStaleBars: 2, calendar: 'XNYS' },
    feed: { provider: 'replay', barClose: BAR_CLOSE, waitMs },
  };
  return new MockActivityEnvironment().run(acts.loadCycleInputs, args);
}

test('the feed never reaches the bar within the bound: every symbol is skipped as stale-data, after the bound', async () => {
  const sym = uniqueSymbol('W');
  await storeBars(pool, sym, '15m', barsToColumns(bars(8, OPEN, MIN))); // its bar is even there: the feed did not say so
  const t0 = Date.now();
  const r = await load([sym], 700);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
  expect(r.windows).toEqual([expect.stringMatching(/^stale-data: the replay 15m feed has not stored the bar closing at 2024-03-07T16:30:00.000Z \(waited 700 ms; its last is none\)$/)]);
});

test('the feed publishes the bar while the cycle waits: a symbol with its bar decides on it, one without is skipped as stale-data', async () => {
  const [arrived, missing] = [uniqueSymbol('A'), uniqueSymbol('M')];
  await storeBars(pool, arrived, '15m', barsToColumns(bars(8, OPEN, MIN)));
  await storeBars(pool, missing, '15m', barsToColumns(bars(7, OPEN, MIN))); // its 11:15 bar never came
  setTimeout(() => void publishWatermark(pool, redis, 'replay', '15m', BAR_CLOSE, { test: true }), 300);
  const t0 = Date.now();
  const r = await load([arrived, missing], 10_000);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  expect(Date.now() - t0).toBeLessThan(5_000);
  const [a, m] = r.windows;
  expect(typeof a === 'object' && a.bars.at(-1)!.ts).toBe(BAR_CLOSE - MIN);
  expect(m).toBe(`stale-data: no ${missing} bar at 2024-03-07T16:15:00.000Z from the replay feed (its newest is 2024-03-07T16:00:00.000Z)`);
});
