/**
 * The broker guard when Redis goes away: it fails open to a per-process bucket and breaker (one warning per
 * outage), never blocks a call on a dead or hung Redis, and is shared again once Redis answers. Runs against a
 * private Redis server this file stops, pauses and starts, and the real paper broker.
 */
import path from 'node:path';
import type { Redis } from 'ioredis';
import { BrokerGuardRefusal, brokerGuardStatus, guardBroker, type GuardedBroker, type GuardSettingsInput } from '../../brokers/guard';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { startRedis, type ManagedService } from '../../harness/stack';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { STACK_FILE, testConfig, testStack } from '../helpers/stack';
import { adapterFor, marketBuy, sleep, uniqueAccount } from './helpers';

let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
let redisServer: ManagedService;
let redis: Redis;

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

beforeAll(async () => {
  const dataDir = path.join(path.dirname(STACK_FILE), 'guard-redis');
  [paper, redisServer] = await Promise.all([
    startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('guard-fb'), initialCash: 1e9 }),
    startRedis({ dataDir, persist: false }),
  ]);
  admin = new PaperBrokerAdmin(paper.url);
  // the production client: fails fast while Redis is down, reconnects in the background
  redis = createRedis(testConfig({ REDIS_URL: redisServer.url }), createLogger('silent'));
  await redisReady(redis);
});

afterAll(async () => {
  redis?.disconnect();
  await Promise.allSettled([paper?.stop(), redisServer?.stop()]);
});

beforeEach(async () => {
  await admin.reset(1e9);
  await admin.setPrices({ AAPL: 10 });
});

function guard(key: string, settings: Omit<GuardSettingsInput, 'key'>, lines: LogLine[]): GuardedBroker {
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, msg, fields: fields as Record<string, unknown> });
  return guardBroker(adapterFor(paper.url, { timeoutMs: 2_000 }), { redis, logger: { debug: at('debug'), info: at('info'), warn: at('warn') }, key, ...settings });
}

/** Polls (every 20 ms, bounded) until `cond` holds. */
async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const submits = async () => (await admin.stats()).submitRequests;
const warnings = (lines: LogLine[]) => lines.filter((l) => l.level === 'warn' && l.msg.startsWith('redis unreachable'));

test('Redis down: calls go on under a per-process bucket and breaker, with one warning; Redis back: shared again', async () => {
  const logs: LogLine[] = [];
  // the limit: 600/min, burst 4; alone, this process allows itself half of it (burst 2, ~5/s)
  const limited = guard('paper:fallback-limit', { limits: { perMinute: 600, burst: 4, maxWaitMs: 0 }, fallbackShare: 0.5, redisRetryMs: 300 }, logs);
  const breakerLogs: LogLine[] = [];
  const breaking = guard('paper:fallback-breaker', { limits: { perMinute: 60_000, burst: 100 }, breaker: { failures: 3, failureRatio: 0, cooldownMs: 60_000 }, redisRetryMs: 300 }, breakerLogs);
  expect(await limited.getAccount()).toMatchObject({ cash: expect.any(Number) });
  expect(limited.mode).toBe('shared');
  expect((await brokerGuardStatus(redis, 'paper:fallback-limit')).callsInWindow).toBe(1);

  await redisServer.stop();
  await until('the client to notice', () => redis.status !== 'ready');

  // fail open: the calls are made, within the local bucket of 2
  const results = await Promise.allSettled(Array.from({ length: 4 }, () => limited.submitOrder(marketBuy('AAPL'))));
  expect(results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'accepted')).toHaveLength(2);
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  expect(refused).toHaveLength(2);
  for (const r of refused) expect(r).toMatchObject({ name: 'BrokerGuardRefusal', reason: 'rate_limited', message: expect.stringMatching(/local fallback/) });
  expect(limited.mode).toBe('local');
  expect(await limited.status()).toMatchObject({ mode: 'local', callsInWindow: 2 });
  expect(await submits()).toBe(2);
  expect(warnings(logs)).toHaveLength(1);

  // the local breaker: three 5xx answers open it for this process
  await admin.setFaults({ seed: 9, http5xx: 1 });
  for (let i = 0; i < 3; i++) expect(await breaking.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown' });
  expect(breakerLogs.find((l) => l.msg.startsWith('broker circuit opened'))?.fields).toMatchObject({ mode: 'local', failuresInWindow: 3 });
  const open = await breaking.submitOrder(marketBuy('AAPL')).catch((err: unknown) => err);
  expect(open).toBeInstanceOf(BrokerGuardRefusal);
  expect(open).toMatchObject({ reason: 'circuit_open', message: expect.stringMatching(/local fallback/) });
  expect(await submits()).toBe(5);
  await admin.clearFaults();
  await sleep(250); // a local token again
  expect(await limited.getAccount()).toMatchObject({ cash: expect.any(Number) });
  expect(warnings(logs)).toHaveLength(1); // once per outage, however many calls

  // Redis returns (empty: this server keeps nothing): the shared state is used again, with one info line
  await redisServer.start();
  await until('the client to reconnect', () => redis.status === 'ready');
  await sleep(300); // redisRetryMs
  expect(await limited.getAccount()).toMatchObject({ cash: expect.any(Number) });
  expect(limited.mode).toBe('shared');
  expect(logs.filter((l) => l.level === 'info' && l.msg.startsWith('redis answers again'))).toHaveLength(1);
  expect((await brokerGuardStatus(redis, 'paper:fallback-limit')).callsInWindow).toBe(1);
  // the shared state wins over what this process saw alone: the local circuit does not carry over
  expect(await breaking.getAccount()).toMatchObject({ cash: expect.any(Number) });
  expect(breaking.mode).toBe('shared');
});

test('a hung Redis (CLIENT PAUSE) delays a call by the guard timeout at most, then the local fallback decides', async () => {
  const logs: LogLine[] = [];
  const g = guard('paper:fallback-hung', { redisTimeoutMs: 300, redisRetryMs: 2_000 }, logs);
  await g.getAccount();
  expect(g.mode).toBe('shared');
  const other = createRedis(testConfig({ REDIS_URL: redisServer.url }), createLogger('silent'));
  try {
    await redisReady(other);
    await other.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const t0 = Date.now();
    expect(await g.getAccount()).toMatchObject({ cash: expect.any(Number) });
    const first = Date.now() - t0;
    const t1 = Date.now();
    expect(await g.getAccount()).toMatchObject({ cash: expect.any(Number) });
    const second = Date.now() - t1;
    console.log(`hung Redis: first call ${first} ms (guard timeout 300 ms), next call ${second} ms (Redis skipped for redisRetryMs)`);
    expect(first).toBeLessThan(800);
    expect(second).toBeLessThan(200);
    expect(g.mode).toBe('local');
    expect(warnings(logs)).toHaveLength(1);
    expect(warnings(logs)[0]!.fields.error).toMatch(/did not answer within 300 ms/);
  } finally {
    await other.call('CLIENT', 'UNPAUSE').catch(() => undefined);
    other.disconnect();
  }
});
