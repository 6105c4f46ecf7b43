/**
 * The broker guard's state machine (token bucket + circuit breaker) in both stores: the Lua scripts on the real
 * Redis and the in-process fallback run the same scenarios and must agree; the local store's arithmetic is also
 * checked exactly on a fake clock.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisGuardStore, guardRedisKeys } from '../../brokers/guard/redis-store';
import { GuardSettingsSchema, guardParams, type GuardParams, type GuardSettingsInput } from '../../brokers/guard/settings';
import { LocalGuardStore, type GuardStore } from '../../brokers/guard/store';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { testConfig } from '../helpers/stack';
import { sleep } from './helpers';

let redis: Redis;

beforeAll(async () => {
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
});

afterAll(() => redis?.disconnect());

function params(settings: Omit<GuardSettingsInput, 'key'>, share = 1): GuardParams {
  return guardParams(GuardSettingsSchema.parse({ key: 'test:params', ...settings }), share);
}

const stores: Array<[string, (p: GuardParams) => GuardStore]> = [
  ['redis (Lua)', (p) => new RedisGuardStore(redis, `test:${randomUUID()}`, p)],
  ['local (fallback)', (p) => new LocalGuardStore(p)],
];

describe.each(stores)('%s store', (_name, make) => {
  test('a full bucket grants `burst` calls at once, then refuses with the time until the next token', async () => {
    // 60/min with a burst of 4: 56 tokens per minute refill, one every ~1071 ms.
    const store = make(params({ limits: { perMinute: 60, burst: 4, maxWaitMs: 0 } }));
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await store.acquire());
    expect(answers.slice(0, 4)).toEqual(Array(4).fill({ kind: 'granted', waitMs: 0, probe: false }));
    for (const a of answers.slice(4)) {
      expect(a).toMatchObject({ kind: 'refused', reason: 'rate_limited' });
      expect(a.kind === 'refused' && a.retryAfterMs).toBeGreaterThan(800);
      expect(a.kind === 'refused' && a.retryAfterMs).toBeLessThanOrEqual(1072);
    }
    expect((await store.snapshot()).tokens).toBeLessThan(0.1);
  });

  test('callers beyond the burst reserve later tokens and are told how long to wait', async () => {
    // 600/min, burst 2: a token every ~101 ms after the first two.
    const interval = 60_000 / 598;
    const store = make(params({ limits: { perMinute: 600, burst: 2, maxWaitMs: 1_000 } }));
    const calls: Array<{ before: number; after: number; waitMs: number }> = [];
    for (let i = 0; i < 5; i++) {
      const before = Date.now();
      const a = await store.acquire();
      if (a.kind !== 'granted') throw new Error(`refused: ${JSON.stringify(a)}`);
      calls.push({ before, after: Date.now(), waitMs: a.waitMs });
    }
    expect(calls.slice(0, 2).map((c) => c.waitMs)).toEqual([0, 0]);
    // call k is served one refill interval after call k-1: at (k-1) intervals after the first, whenever it asked
    const first = calls[0];
    for (let k = 2; k < 5; k++) {
      const c = calls[k];
      expect(c.waitMs).toBeGreaterThanOrEqual(Math.max(0, Math.floor(first.before + (k - 1) * interval - c.after) - 1));
      expect(c.waitMs).toBeLessThanOrEqual(Math.max(0, Math.ceil(first.after + (k - 1) * interval - c.before) + 2));
    }
    expect((await store.snapshot()).tokens).toBeLessThan(-2 + (Date.now() - first.before) / interval);
  });

  test('a 429 empties the bucket and pauses it for Retry-After; it counts as a failure', async () => {
    const store = make(params({ limits: { perMinute: 60_000, burst: 50, maxWaitMs: 100 }, breaker: { failures: 100 } }));
    expect(await store.acquire()).toMatchObject({ kind: 'granted', waitMs: 0 });
    expect(await store.record({ verdict: 'rate_limited', probe: false, retryAfterMs: 800, reason: 'rate limited (429)' })).toEqual({ transition: 'none', failuresInWindow: 1, callsInWindow: 1 });
    const refused = await store.acquire();
    expect(refused).toMatchObject({ kind: 'refused', reason: 'rate_limited' });
    expect(refused.kind === 'refused' && refused.retryAfterMs).toBeGreaterThan(700);
    const snap = await store.snapshot();
    expect(snap.pausedForMs).toBeGreaterThan(700);
    expect(snap.tokens).toBeLessThanOrEqual(0);
    expect(snap.lastFailure).toBe('rate limited (429)');
  });

  test('breaker: opens on `failures` in the window only when they are also `failureRatio` of the calls', async () => {
    const store = make(params({ limits: { perMinute: 60_000, burst: 100 }, breaker: { failures: 3, failureRatio: 0.5, windowMs: 60_000, cooldownMs: 60_000 } }));
    for (let i = 0; i < 8; i++) await store.acquire();
    // 3 failures out of 8 calls: enough failures, not enough of a share
    for (let i = 0; i < 3; i++) expect((await store.record({ verdict: 'failure', probe: false, reason: 'HTTP 503' })).transition).toBe('none');
    expect((await store.snapshot()).state).toBe('closed');
    expect((await store.record({ verdict: 'failure', probe: false })).transition).toBe('opened'); // 4 of 8
    const snap = await store.snapshot();
    expect(snap).toMatchObject({ state: 'open', trips: 1, failuresInWindow: 4, callsInWindow: 8 });
    expect(snap.openForMs).toBeGreaterThan(59_000);
    const refused = await store.acquire();
    expect(refused).toMatchObject({ kind: 'refused', reason: 'circuit_open' });
    expect(refused.kind === 'refused' && refused.retryAfterMs).toBeGreaterThan(59_000);
    // late failures of calls admitted before the opening do not extend the cooldown or count a second trip
    expect((await store.record({ verdict: 'failure', probe: false })).transition).toBe('none');
    expect((await store.snapshot()).trips).toBe(1);
  });

  test('breaker: after the cooldown one probe goes; its success closes the circuit, its failure opens it again', async () => {
    const store = make(params({ limits: { perMinute: 60_000, burst: 100 }, breaker: { failures: 2, failureRatio: 0, windowMs: 60_000, cooldownMs: 300 } }));
    await store.record({ verdict: 'failure', probe: false });
    expect((await store.record({ verdict: 'failure', probe: false })).transition).toBe('opened');
    await sleep(320);
    expect((await store.snapshot()).state).toBe('half_open');
    expect(await store.acquire()).toEqual({ kind: 'granted', waitMs: 0, probe: true });
    const busy = await store.acquire();
    expect(busy).toMatchObject({ kind: 'refused', reason: 'circuit_half_open' });
    expect(busy.kind === 'refused' && busy.retryAfterMs).toBeLessThanOrEqual(1_000);
    // the probe fails: open again for a whole cooldown
    expect((await store.record({ verdict: 'failure', probe: true })).transition).toBe('reopened');
    expect(await store.snapshot()).toMatchObject({ state: 'open', trips: 2 });
    expect(await store.acquire()).toMatchObject({ kind: 'refused', reason: 'circuit_open' });
    await sleep(320);
    expect(await store.acquire()).toMatchObject({ kind: 'granted', probe: true });
    // a probe that ends without a verdict (the caller gave up) lets the next probe go
    expect((await store.record({ verdict: 'neutral', probe: true })).transition).toBe('none');
    expect(await store.acquire()).toMatchObject({ kind: 'granted', probe: true });
    expect((await store.record({ verdict: 'success', probe: true })).transition).toBe('closed');
    expect(await store.snapshot()).toMatchObject({ state: 'closed', failuresInWindow: 0, callsInWindow: 0, trips: 2 });
    expect(await store.acquire()).toEqual({ kind: 'granted', waitMs: 0, probe: false });
  });
});

test('redis store: every key carries a TTL, and a key nobody used reads as a closed circuit', async () => {
  const key = `test:${randomUUID()}`;
  const store = new RedisGuardStore(redis, key, params({}));
  expect(await store.snapshot()).toMatchObject({ state: 'closed', tokens: null, failuresInWindow: 0, trips: 0 });
  await store.acquire();
  await store.record({ verdict: 'failure', probe: false });
  for (const k of guardRedisKeys(key)) {
    const ttl = await redis.pttl(k);
    expect(ttl).toBeGreaterThan(0);
  }
});

describe('local store on a fake clock', () => {
  test('refill, reservations and the maxWait bound are exact', async () => {
    let now = 1_000_000;
    // burst 5, 65/min: refill 60/min = one token per 1000 ms
    const store = new LocalGuardStore(params({ limits: { perMinute: 65, burst: 5, maxWaitMs: 2_500 } }), () => now);
    for (let i = 0; i < 5; i++) expect(await store.acquire()).toMatchObject({ waitMs: 0 });
    expect(await store.acquire()).toMatchObject({ kind: 'granted', waitMs: 1_000 });
    expect(await store.acquire()).toMatchObject({ kind: 'granted', waitMs: 2_000 });
    expect(await store.acquire()).toEqual({ kind: 'refused', reason: 'rate_limited', retryAfterMs: 3_000 });
    now += 3_000; // the two reservations are served, one token is back
    expect(await store.acquire()).toMatchObject({ kind: 'granted', waitMs: 0 });
    now += 60_000;
    expect((await store.snapshot()).tokens).toBe(5); // never more than the burst
  });

  test('a pause longer than maxWait refuses with the pause; a shorter one is waited for', async () => {
    let now = 0;
    const store = new LocalGuardStore(params({ limits: { perMinute: 600, burst: 10, maxWaitMs: 1_000 }, breaker: { failures: 50 } }), () => now);
    await store.record({ verdict: 'rate_limited', probe: false, retryAfterMs: 3_000 });
    expect(await store.acquire()).toEqual({ kind: 'refused', reason: 'rate_limited', retryAfterMs: 3_000 + 102 });
    now += 2_500;
    // 500 ms of pause left, then one refill interval (590/min: ~102 ms) for the first token
    expect(await store.acquire()).toEqual({ kind: 'granted', waitMs: 500 + 102, probe: false });
  });

  test('a probe whose worker died stops blocking after probeTimeoutMs', async () => {
    let now = 0;
    const store = new LocalGuardStore(params({ breaker: { failures: 1, failureRatio: 0, cooldownMs: 1_000, probeTimeoutMs: 5_000 } }), () => now);
    await store.record({ verdict: 'failure', probe: false });
    now += 1_000;
    expect(await store.acquire()).toMatchObject({ kind: 'granted', probe: true });
    now += 4_999;
    expect(await store.acquire()).toEqual({ kind: 'refused', reason: 'circuit_half_open', retryAfterMs: 1 });
    now += 1;
    expect(await store.acquire()).toMatchObject({ kind: 'granted', probe: true });
  });

  test('the fallback share scales the bucket of a process on its own', () => {
    const settings = { limits: { perMinute: 200, burst: 10 } };
    expect(params(settings)).toMatchObject({ capacity: 10, refillPerMs: 190 / 60_000 });
    expect(params(settings, 0.5)).toMatchObject({ capacity: 5, refillPerMs: 95 / 60_000 });
    expect(() => params({ limits: { perMinute: 10, burst: 10 } })).toThrow(/burst must be smaller than perMinute/);
  });
});
