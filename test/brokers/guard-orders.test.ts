/**
 * The exactly-once order protocol (activities/orders.ts) behind the broker guard, on real Postgres, Redis and the
 * paper broker process: a refusal by the guard happens before anything is sent, leaves the ledger in a state the
 * retry resolves with a lookup, and never produces a second broker order.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { createOrderActivities, type PlaceOrderInput } from '../../activities/orders';
import { BrokerGuardRefusal, brokerGuardStatus, guardBroker, guardKeyFor } from '../../brokers/guard';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { clientOrderId } from '../../domain/ids';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { testPool, uniqueSymbol } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';
import { sleep } from './helpers';

let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
let redis: Redis;
const account = `acct-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account, initialCash: 1e9 });
  admin = new PaperBrokerAdmin(paper.url);
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
});

afterAll(async () => {
  redis?.disconnect();
  await paper?.stop();
  await pool?.end();
});

/** One activity attempt; the failed attempts are expected here, so the environment logs errors only. */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') }).run(fn, ...args) as Promise<R>;
}

function order(deploymentId: string, cycle: number, symbol: string): PlaceOrderInput {
  return {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, cycle, 0, 1),
    deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1, broker: 'paper', accountId: account,
    symbol, side: 'buy', qty: 1, orderType: 'market', timeInForce: 'day',
  };
}

const ledger = async (id: string) => (await pool.query('SELECT state, submit_attempts, unsent_attempts FROM order_ledger WHERE client_order_id = $1', [id])).rows[0];

test('circuit open: placeOrder fails retryably before the send; after the cooldown the retry sends once (counted unsent before: no lookup needed) and closes the circuit', async () => {
  await admin.reset(1e9);
  const symbol = uniqueSymbol('GRD');
  await admin.setPrices({ [symbol]: 20 });
  const key = guardKeyFor('paper', `orders-${randomUUID().slice(0, 8)}`);
  const broker = guardBroker(paperBrokerPort(paper.url, { timeoutMs: 2_000 }), {
    redis, logger: createLogger('silent'), key,
    // a cooldown long enough for the steps below to meet an open circuit on a busy machine
    breaker: { failures: 2, failureRatio: 0.5, windowMs: 10_000, cooldownMs: 2_500 },
  });
  const acts = createOrderActivities({ db: pool, brokers: { paper: broker } });
  const deploymentId = randomUUID();

  // Order 1 meets a 5xx twice (attempt 1: send; attempt 2: lookup finds nothing, send again): the circuit opens.
  await admin.setFaults({ seed: 11, http5xx: 1 });
  const o1 = order(deploymentId, 1, symbol);
  await expect(run(acts.placeOrder, o1)).rejects.toMatchObject({ type: 'OrderOutcomeUnknown' });
  await expect(run(acts.placeOrder, o1)).rejects.toMatchObject({ type: 'OrderOutcomeUnknown' });
  expect(await brokerGuardStatus(redis, key)).toMatchObject({ state: 'open', failuresInWindow: 2 });
  await admin.clearFaults();
  const sent = (await admin.stats()).submitRequests;
  expect(sent).toBe(2);

  // Order 2 while open: refused at the submit, after the ledger said SUBMITTING; nothing reaches the broker, and the
  // ledger counts the attempt as unsent (back to INTENT: no attempt can have reached the broker).
  const o2 = order(deploymentId, 2, symbol);
  const refused = await run(acts.placeOrder, o2).catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(BrokerGuardRefusal);
  expect(refused).toMatchObject({ reason: 'circuit_open', notSent: true });
  expect((refused as BrokerGuardRefusal).retryAfterMs).toBeGreaterThan(0);
  expect((refused as { nonRetryable?: boolean }).nonRetryable).toBeFalsy(); // Temporal retries it
  expect(await ledger(o2.clientOrderId)).toEqual({ state: 'INTENT', submit_attempts: 1, unsent_attempts: 1 });
  // Order 1's retry is refused at its lookup, before any send.
  await expect(run(acts.placeOrder, o1)).rejects.toMatchObject({ reason: 'circuit_open' });
  expect(await ledger(o1.clientOrderId)).toEqual({ state: 'UNKNOWN', submit_attempts: 2, unsent_attempts: 0 });
  expect((await admin.stats()).submitRequests).toBe(sent);

  // After the cooldown: order 2's retry sends at once (nothing to look up; the send is the half-open probe).
  await sleep((refused as BrokerGuardRefusal).retryAfterMs! + 20);
  const placed2 = await run(acts.placeOrder, o2);
  expect(['ACCEPTED', 'FILLED']).toContain(placed2.state);
  expect(await brokerGuardStatus(redis, key)).toMatchObject({ state: 'closed' });
  const placed1 = await run(acts.placeOrder, o1);
  expect(['ACCEPTED', 'FILLED']).toContain(placed1.state);

  // One broker order per client id, each sent exactly once after the faults.
  const stats = await admin.stats();
  expect(stats.submitRequests).toBe(sent + 2);
  expect(stats.orders).toBe(2);
  expect(stats.duplicateClientOrderIds).toBe(0);
  for (const o of [o1, o2]) expect(await paperBrokerPort(paper.url).getOrderByClientId(o.clientOrderId)).toMatchObject({ clientOrderId: o.clientOrderId });
  expect(await ledger(o2.clientOrderId)).toMatchObject({ submit_attempts: 2, unsent_attempts: 1 });
});
