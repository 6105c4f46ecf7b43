/**
 * The broker guard as two IO workers see it: two guard instances, each with its own Redis connection and its own
 * adapter, on one guard key, in front of the real paper broker process with seeded faults. What reaches the
 * broker is counted by the broker itself (`submitRequests`).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BrokerGuardRefusal, brokerGuardStatus, guardBroker, listBrokerGuardStatuses, type GuardedBroker, type GuardSettingsInput } from '../../brokers/guard';
import { BrokerRequestError, type BrokerPort } from '../../brokers/port';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { testConfig, testStack } from '../helpers/stack';
import { adapterFor, marketBuy, sleep, uniqueAccount } from './helpers';

let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
/** what /health would use to read the shared state */
let reader: Redis;
const connections: Redis[] = [];

beforeAll(async () => {
  reader = createRedis(testConfig(), createLogger('silent'));
  connections.push(reader);
  paper = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account: uniqueAccount('guard'), initialCash: 1e9 });
  admin = new PaperBrokerAdmin(paper.url);
});

afterAll(async () => {
  for (const r of connections) r.disconnect();
  await paper?.stop();
});

beforeEach(async () => {
  await admin.reset(1e9);
  await admin.setPrices({ AAPL: 10 });
});

interface LogLine {
  level: 'debug' | 'info' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps what it is told. */
function recordingLogger(lines: LogLine[]) {
  const at = (level: LogLine['level']) => (fields: object, msg: string) => void lines.push({ level, msg, fields: fields as Record<string, unknown> });
  return { debug: at('debug'), info: at('info'), warn: at('warn') };
}

/** One "IO worker": its own Redis connection (production options), its own adapter, the shared key. */
async function worker(key: string, settings: Omit<GuardSettingsInput, 'key'>, lines: LogLine[] = [], inner?: BrokerPort): Promise<GuardedBroker> {
  const redis = createRedis(testConfig(), createLogger('silent'));
  connections.push(redis);
  await redisReady(redis);
  return guardBroker(inner ?? adapterFor(paper.url, { timeoutMs: 2_000 }), { redis, logger: recordingLogger(lines), key, ...settings });
}

const newKey = () => `paper:test-${randomUUID().slice(0, 8)}`;
const submits = async () => (await admin.stats()).submitRequests;

/** Runs `fn`, returning the refusal it threw (and failing the test on any other outcome). */
async function refusal(fn: () => Promise<unknown>): Promise<BrokerGuardRefusal> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof BrokerGuardRefusal) return err;
    throw err;
  }
  throw new Error('the call went through; expected a BrokerGuardRefusal');
}

/** A port that holds submitOrder until released, then calls the real adapter: a slow probe on demand. */
function holdingPort(inner: BrokerPort) {
  let release!: () => void;
  let enter!: () => void;
  const released = new Promise<void>((r) => (release = r));
  /** resolves once the guard has let the call through */
  const entered = new Promise<void>((r) => (enter = r));
  const port: BrokerPort = Object.create(inner) as BrokerPort;
  port.submitOrder = async (req, signal) => {
    enter();
    await released;
    return inner.submitOrder(req, signal);
  };
  return { port, release, entered };
}

test('two workers share one bucket: a burst across both is cut at the burst size, the rest refused unsent', async () => {
  const key = newKey();
  // 60/min, burst 4: after the burst one token per ~1.07 s, so a burst of 10 calls gets 4 through
  const settings = { limits: { perMinute: 60, burst: 4, maxWaitMs: 0 } };
  const [a, b] = [await worker(key, settings), await worker(key, settings)];
  const before = await submits();
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).submitOrder(marketBuy('AAPL'))));
  const sent = results.filter((r) => r.status === 'fulfilled');
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as BrokerGuardRefusal] : []));
  expect(sent).toHaveLength(4);
  expect(sent.every((r) => r.status === 'fulfilled' && r.value.kind === 'accepted')).toBe(true);
  expect(refused).toHaveLength(6);
  for (const r of refused) {
    expect(r).toBeInstanceOf(BrokerGuardRefusal);
    expect(r).toMatchObject({ name: 'BrokerGuardRefusal', reason: 'rate_limited', notSent: true, guard: key });
    expect(r.retryAfterMs).toBeGreaterThan(0);
    expect(r.retryAfterMs).toBeLessThanOrEqual(1_072);
  }
  expect((await submits()) - before).toBe(4); // counted by the broker
  const status = await brokerGuardStatus(reader, key);
  expect(status).toMatchObject({ key, state: 'closed', callsInWindow: 4, failuresInWindow: 0 });
  expect(status.tokens).toBeLessThan(1); // refilling, not a whole token yet
});

test('two workers queue on one bucket: every call goes, spaced so no interval holds more than burst + rate x length', async () => {
  const key = newKey();
  const perMinute = 602; // refill 600/min: one token per 100 ms after a burst of 2
  const settings = { limits: { perMinute, burst: 2, maxWaitMs: 3_000 } };
  const sentAt: number[] = [];
  const stamp = (inner: BrokerPort): BrokerPort => {
    const port = Object.create(inner) as BrokerPort;
    port.submitOrder = (req, signal) => {
      sentAt.push(performance.now());
      return inner.submitOrder(req, signal);
    };
    return port;
  };
  const a = await worker(key, settings, [], stamp(adapterFor(paper.url)));
  const b = await worker(key, settings, [], stamp(adapterFor(paper.url)));
  const t0 = performance.now();
  const outcomes = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).submitOrder(marketBuy('AAPL'))));
  const elapsedMs = performance.now() - t0;
  expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
  sentAt.sort((x, y) => x - y);
  // Token bucket bound on the sends themselves. Tokens are granted in Redis and stamped here after a round trip, so
  // two stamps can be closer than their grants by the round trips' jitter: 25 ms of slack per interval (a quarter of
  // a token). An unshared bucket would send twice the rate and exceed the bound by whole calls.
  const perMs = (perMinute - 2) / 60_000;
  const stampJitterMs = 25;
  let worst = 0;
  for (let i = 0; i < sentAt.length; i++) {
    for (let j = i + 1; j < sentAt.length; j++) worst = Math.max(worst, j - i + 1 - (2 + perMs * (sentAt[j] - sentAt[i] + stampJitterMs)));
  }
  const rate = ((sentAt.length - 2) / (sentAt[sentAt.length - 1] - sentAt[0])) * 1000;
  console.log(`shared bucket, 2 workers, 16 calls, burst 2 + 10/s: ${elapsedMs.toFixed(0)} ms, ${rate.toFixed(1)} calls/s after the burst, worst excess over the bound ${worst.toFixed(2)}`);
  expect(worst).toBeLessThanOrEqual(0);
  expect(elapsedMs).toBeGreaterThanOrEqual(14 * 100 - 20);
  expect(rate).toBeLessThanOrEqual(10.5);
});

test('the breaker opens after the threshold on both workers, then a single half-open probe closes it', async () => {
  const key = newKey();
  const settings = { limits: { perMinute: 60_000, burst: 100 }, breaker: { failures: 3, failureRatio: 0.5, windowMs: 10_000, cooldownMs: 1_200 } };
  const logsA: LogLine[] = [];
  const logsB: LogLine[] = [];
  const a = await worker(key, settings, logsA);
  const b = await worker(key, settings, logsB);
  await admin.setFaults({ seed: 3, http5xx: 1 });

  // three 5xx answers, two seen by B and one by A
  expect(await b.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown' });
  expect(await a.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown' });
  expect((await brokerGuardStatus(reader, key)).state).toBe('closed');
  expect(await b.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown' });
  expect(logsB.filter((l) => l.msg.startsWith('broker circuit opened'))).toHaveLength(1);
  expect(logsB.find((l) => l.msg.startsWith('broker circuit opened'))?.fields).toMatchObject({ guard: key, failuresInWindow: 3, callsInWindow: 3 });
  const sentWhileClosed = await submits();
  expect(sentWhileClosed).toBe(3);

  // open: both workers refuse every call, reads included, and nothing reaches the broker
  for (const call of [() => a.submitOrder(marketBuy('AAPL')), () => b.submitOrder(marketBuy('AAPL')), () => a.getAccount(), () => b.listPositions()]) {
    const r = await refusal(call);
    expect(r).toMatchObject({ reason: 'circuit_open', notSent: true });
    expect(r.retryAfterMs).toBeGreaterThan(0);
    expect(r.retryAfterMs).toBeLessThanOrEqual(1_200);
  }
  expect(await submits()).toBe(sentWhileClosed);
  const open = await brokerGuardStatus(reader, key);
  expect(open).toMatchObject({ state: 'open', trips: 1, failuresInWindow: 3 });
  expect(open.lastFailure).toMatch(/HTTP 50[03]/);
  expect(open.openedAt).not.toBeNull();

  // after the cooldown: one probe (a submit by a worker whose call is held at the broker's door) while every
  // other call is refused
  await admin.clearFaults();
  await sleep(open.openForMs + 20);
  const held = holdingPort(adapterFor(paper.url));
  const a2 = await worker(key, settings, logsA, held.port);
  const probe = a2.submitOrder(marketBuy('AAPL'));
  await held.entered;
  expect((await brokerGuardStatus(reader, key)).state).toBe('half_open');
  for (const call of [() => b.submitOrder(marketBuy('AAPL')), () => a.getAccount()]) {
    const r = await refusal(call);
    expect(r).toMatchObject({ reason: 'circuit_half_open', notSent: true });
    expect(r.retryAfterMs).toBeLessThanOrEqual(1_000);
  }
  held.release();
  expect(await probe).toMatchObject({ kind: 'accepted' });
  expect(logsA.filter((l) => l.msg.startsWith('broker circuit closed'))).toHaveLength(1);
  expect(await brokerGuardStatus(reader, key)).toMatchObject({ state: 'closed', trips: 1, failuresInWindow: 0 });
  expect(await b.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'accepted' });
  expect(await a.getAccount()).toMatchObject({ cash: expect.any(Number) });
  expect(await submits()).toBe(sentWhileClosed + 2);
});

test('a failed probe opens the circuit again for both workers', async () => {
  const key = newKey();
  const settings = { limits: { perMinute: 60_000, burst: 100 }, breaker: { failures: 2, failureRatio: 0, windowMs: 10_000, cooldownMs: 600 } };
  const logs: LogLine[] = [];
  const a = await worker(key, settings, logs);
  const b = await worker(key, settings);
  await admin.setFaults({ seed: 4, http5xx: 1 });
  await a.submitOrder(marketBuy('AAPL'));
  await b.submitOrder(marketBuy('AAPL'));
  expect(await refusal(() => a.getAccount())).toMatchObject({ reason: 'circuit_open' });
  await sleep(620);
  expect(await a.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown' }); // the probe, answered 5xx
  expect(logs.filter((l) => l.msg.startsWith('broker circuit probe failed'))).toHaveLength(1);
  expect(await refusal(() => b.submitOrder(marketBuy('AAPL')))).toMatchObject({ reason: 'circuit_open' });
  expect(await brokerGuardStatus(reader, key)).toMatchObject({ state: 'open', trips: 2 });
  expect(await submits()).toBe(3);
});

test('rejections, duplicate client ids and 4xx answers are answers, not failures: only 5xx and timeouts open the circuit', async () => {
  const key = newKey();
  const settings = { limits: { perMinute: 60_000, burst: 100 }, breaker: { failures: 2, failureRatio: 0, windowMs: 10_000, cooldownMs: 60_000 } };
  const a = await worker(key, settings);
  const b = await worker(key, settings);
  await admin.setFaults({ seed: 5, reject: 1 });
  for (let i = 0; i < 3; i++) expect(await a.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'rejected' });
  await admin.clearFaults();
  const first = marketBuy('AAPL');
  expect(await b.submitOrder(first)).toMatchObject({ kind: 'accepted' });
  for (let i = 0; i < 2; i++) expect(await b.submitOrder(first)).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/duplicate client_order_id/) });
  await expect(a.cancelOrder(randomUUID())).rejects.toBeInstanceOf(BrokerRequestError); // 404
  expect(await a.getOrderByClientId(randomUUID())).toBeNull();
  expect(await brokerGuardStatus(reader, key)).toMatchObject({ state: 'closed', failuresInWindow: 0, callsInWindow: 8 });

  // a timeout (held past the adapter's 2 s) and a 5xx: two failures, the circuit opens
  await admin.setFaults({ seed: 6, timeoutBeforeExecute: 1, timeoutMs: 2_500 });
  expect(await a.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown', reason: expect.stringMatching(/no answer within/) });
  await admin.setFaults({ seed: 6, readFaults: { http5xx: 1 } });
  await expect(b.listOrders({ status: 'open' })).rejects.toMatchObject({ name: 'BrokerUnavailableError', status: 503 });
  await admin.clearFaults();
  const status = await brokerGuardStatus(reader, key);
  expect(status).toMatchObject({ state: 'open', failuresInWindow: 2 });
  expect(await refusal(() => a.getAccount())).toMatchObject({ reason: 'circuit_open' });
});

test("a 429's Retry-After pauses both workers: the other worker's calls wait it out or are refused unsent", async () => {
  const key = newKey();
  const settings = { limits: { perMinute: 60_000, burst: 50, maxWaitMs: 100 }, breaker: { failures: 100 } };
  const logs: LogLine[] = [];
  const a = await worker(key, settings, logs);
  const b = await worker(key, settings);
  await admin.setFaults({ seed: 7, http429: 1, retryAfterMs: 1_000 }); // "Retry-After: 1"
  const t429 = Date.now();
  expect(await a.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'unknown', retryAfterMs: 1_000 });
  await admin.clearFaults();
  expect(logs.some((l) => l.msg.startsWith('broker answered 429'))).toBe(true);

  // B waits at most 100 ms, the pause is ~1 s: refused at once, nothing sent
  const paused = await brokerGuardStatus(reader, key);
  expect(paused.pausedForMs).toBeGreaterThan(100);
  expect(paused.tokens).toBeLessThanOrEqual(0);
  for (const call of [() => b.submitOrder(marketBuy('AAPL')), () => b.getAccount(), () => a.listFills({})]) {
    const r = await refusal(call);
    expect(r).toMatchObject({ reason: 'rate_limited', notSent: true });
    expect(r.retryAfterMs).toBeGreaterThan(100);
    expect(r.retryAfterMs).toBeLessThanOrEqual(1_010);
  }
  expect(await submits()).toBe(1);

  // a third worker that may wait 2 s: its call goes out when the pause is over, not before
  const c = await worker(key, { ...settings, limits: { ...settings.limits, maxWaitMs: 2_000 } });
  expect(await c.submitOrder(marketBuy('AAPL'))).toMatchObject({ kind: 'accepted' });
  const waitedMs = Date.now() - t429;
  expect(waitedMs).toBeGreaterThanOrEqual(980);
  expect(await submits()).toBe(2);
  expect((await brokerGuardStatus(reader, key)).pausedForMs).toBe(0);
});

test('a call aborted while it waits for a token is not sent and rejects with the abort reason', async () => {
  const key = newKey();
  const a = await worker(key, { limits: { perMinute: 62, burst: 2, maxWaitMs: 5_000 } });
  await a.getAccount();
  await a.getAccount();
  const abort = new AbortController();
  const pending = a.submitOrder(marketBuy('AAPL'), abort.signal); // waits ~1 s for a token
  await sleep(100);
  abort.abort(new Error('activity cancelled'));
  await expect(pending).rejects.toThrow('activity cancelled');
  expect(await submits()).toBe(0);
});

test('the status listing names every guard key used against this Redis', async () => {
  const key = newKey();
  const a = await worker(key, {});
  await a.getAccount();
  await sleep(50); // registration is not awaited by the call
  const all = await listBrokerGuardStatuses(reader);
  expect(all.find((s) => s.key === key)).toMatchObject({ state: 'closed', callsInWindow: 1 });
  expect(a.mode).toBe('shared');
  expect(await a.status()).toMatchObject({ mode: 'shared', state: 'closed', callsInWindow: 1 });
});

test('overhead: a guarded call costs one Redis script round trip more than a direct one', async () => {
  const direct = adapterFor(paper.url);
  const guarded = await worker(newKey(), { limits: { perMinute: 600_000, burst: 1_000 } });
  const median = async (fn: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    return times.sort((x, y) => x - y)[50];
  };
  await median(() => direct.getAccount()); // warm up the connection pool and the script cache
  const [d, g] = [await median(() => direct.getAccount()), await median(() => guarded.getAccount())];
  console.log(`getAccount median: direct ${d.toFixed(2)} ms, guarded ${g.toFixed(2)} ms (+${(g - d).toFixed(2)} ms)`);
  expect(g - d).toBeLessThan(5);
});
