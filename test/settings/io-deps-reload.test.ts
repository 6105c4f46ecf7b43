/**
 * The IO worker's reload wiring (workers/io-deps.ts prepareReload): the swap reaches the objects the activities read
 * at call time: the feeds' quality thresholds (the same object createIoActivities hands the feed activities), the
 * notification senders, and the guard. A refused build swaps nothing.
 */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { createIoActivities } from '../../activities/io';
import { GuardedBroker } from '../../brokers/guard';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { ioDeps } from '../../workers/io-deps';
import { testPool } from '../helpers/db';
import { testConfig } from '../helpers/stack';

let redis: Redis;
let db: Pool;

beforeAll(async () => {
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
  db = testPool();
});

afterAll(async () => {
  redis?.disconnect();
  await db?.end();
});

test('a reload swaps the thresholds the feed activities read, the notification channels and the guard; a refused one swaps nothing', async () => {
  const deps = ioDeps(testConfig(), createLogger('silent'), db, redis);
  try {
    createIoActivities(deps);
    const refresh = deps.marketData!.refresh!;
    // createIoActivities filled the defaults into this very object, so the feed activities read what a reload writes.
    expect(refresh).toMatchObject({ lateBarWaitMs: 20_000, maxInlineGapBars: 500, thresholds: { missingWarning: 0.05, missingError: 0.2 } });
    const notify = deps.notify as () => { senders: Array<{ channel: string }> };
    expect(notify().senders.map((s) => s.channel)).toEqual(['log']);
    expect(deps.processingLagAlertMs!()).toBe(30_000);

    deps.prepareReload(testConfig({ MARKET_DATA_MISSING_WARNING: '0.1', MARKET_DATA_DELAY_ERROR_MS: '900000', NOTIFY_SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/slack', PROCESSING_LAG_ALERT_MS: '5000' }))();
    expect(refresh.thresholds).toEqual({ missingWarning: 0.1, missingError: 0.2, delayWarningMs: 300_000, delayErrorMs: 900_000 });
    expect(notify().senders.map((s) => s.channel)).toEqual(['log', 'slack']);
    // recordCycle reads the processing-lag threshold from here at each cycle
    expect(deps.processingLagAlertMs!()).toBe(5_000);

    // A Telegram URL without its chat id: the build throws before any swap.
    expect(() => deps.prepareReload(testConfig({ MARKET_DATA_MISSING_WARNING: '0.15', PROCESSING_LAG_ALERT_MS: '9000', NOTIFY_TELEGRAM_URL: 'http://127.0.0.1:9/tg' }))).toThrow(/NOTIFY_TELEGRAM_URL/);
    expect(refresh.thresholds!.missingWarning).toBe(0.1);
    expect(deps.processingLagAlertMs!()).toBe(5_000);
    expect(notify().senders.map((s) => s.channel)).toEqual(['log', 'slack']);
    expect(deps.brokers.paper).toBeInstanceOf(GuardedBroker);
  } finally {
    await deps.gatePool.end();
  }
});
