/**
 * The IO worker's wiring (workers/io-deps.ts): every broker it builds is guarded, under a key per broker
 * account, with the settings of the environment; the Alpaca key id never appears in the key.
 */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { BrokerGuardRefusal, GuardedBroker, listBrokerGuardStatuses } from '../../brokers/guard';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { ioDeps } from '../../workers/io-deps';
import { testPool } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';
import { CANARY_KEY_ID, CANARY_SECRET, marketBuy, uniqueAccount } from './helpers';

let paper: PaperBrokerProcess;
let redis: Redis;
let db: Pool;

beforeAll(async () => {
  paper = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('guard-wiring'), initialCash: 1e9 });
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
  db = testPool();
});

afterAll(async () => {
  redis?.disconnect();
  await db?.end();
  await paper?.stop();
});

test('ioDeps guards the paper and Alpaca brokers per account, with the breaker settings of the environment', async () => {
  const config = testConfig({
    PAPER_BROKER_URL: paper.url,
    ALPACA_KEY_ID: CANARY_KEY_ID,
    ALPACA_SECRET_KEY: CANARY_SECRET,
    BROKER_BREAKER_FAILURES: '1',
    BROKER_BREAKER_FAILURE_RATIO: '0',
    BROKER_BREAKER_COOLDOWN_MS: '60000',
  });
  const deps = ioDeps(config, createLogger('silent'), db, redis);
  try {
    const { paper: paperBroker, alpaca } = deps.brokers;
    expect(paperBroker).toBeInstanceOf(GuardedBroker);
    expect(alpaca).toBeInstanceOf(GuardedBroker);
    expect((paperBroker as GuardedBroker).key).toBe(`paper:${new URL(paper.url).host}`);
    const alpacaKey = (alpaca as GuardedBroker).key;
    expect(alpacaKey).toMatch(/^alpaca:paper-api\.alpaca\.markets\/[0-9a-f]{12}$/);
    expect(alpacaKey).not.toContain(CANARY_KEY_ID);

    // BROKER_BREAKER_FAILURES=1: one 5xx opens the paper account's circuit
    const admin = new PaperBrokerAdmin(paper.url);
    await admin.setPrices({ AAPL: 10 });
    await admin.setFaults({ seed: 12, http5xx: 1 });
    expect(await paperBroker!.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown' });
    await admin.clearFaults();
    await expect(paperBroker!.getAccount()).rejects.toBeInstanceOf(BrokerGuardRefusal);
    const listed = (await listBrokerGuardStatuses(redis)).find((s) => s.key === (paperBroker as GuardedBroker).key);
    expect(listed).toMatchObject({ state: 'open', trips: 1 });
  } finally {
    await deps.gatePool.end();
  }
});
