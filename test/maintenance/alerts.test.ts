/**
 * The alerts of issue 10 that do not depend on market data, each enqueued in the outbox once per event (its dedupe
 * key), from where the change happens: the kill switch route, recordCycle (drawdown breaker), placeOrder (a broker
 * rejection) and the broker guard the IO worker builds (circuit opened and closed). Real Postgres, Redis and the
 * paper broker process.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Redis } from 'ioredis';
import { createDeploymentActivities } from '../../activities/deployments';
import { createOrderActivities, type PlaceOrderInput } from '../../activities/orders';
import type { GuardedBroker } from '../../brokers/guard';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { clientOrderId } from '../../domain/ids';
import type { RiskVerdict } from '../../domain/risk/gate';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { ioDeps } from '../../workers/io-deps';
import type { CycleRecord } from '../../workflows/deployment/messages';
import { AUTH, startApi, type ApiHarness } from '../api/harness';
import { uniqueSymbol } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';

let h: ApiHarness;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
let redis: Redis;
const account = `alerts-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  h = await startApi();
  paper = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account, initialCash: 1e9 });
  admin = new PaperBrokerAdmin(paper.url);
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
});

afterAll(async () => {
  await h?.db.query(`UPDATE trading_halts SET active = false WHERE scope_id = $1`, [account]).catch(() => undefined);
  redis?.disconnect();
  await paper?.stop();
  await h?.close();
});

const alerts = async (kind: string, payloadKey: string, value: string) =>
  (
    await h.db.query<{ kind: string; severity: string; subject: string; dedupe_key: string; payload: Record<string, unknown> }>(
      `SELECT kind, severity, subject, dedupe_key, payload FROM notifications WHERE kind LIKE $1 AND payload->>$2 = $3 ORDER BY id`,
      [kind, payloadKey, value],
    )
  ).rows;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the kill switch alerts when a scope changes: on, off, on again; a repeated "on" is no change and no alert', async () => {
  const post = (active: boolean) =>
    h.app.inject({ method: 'POST', url: '/v1/kill-switch', headers: AUTH.admin, payload: { scope: 'account', id: account, active, reason: `alert test ${active}` } });
  for (const active of [true, true, false, true]) expect((await post(active)).statusCode).toBe(200);
  const rows = await alerts('kill_switch.%', 'id', account);
  expect(rows.map((r) => [r.kind, r.severity])).toEqual([
    ['kill_switch.on', 'critical'],
    ['kill_switch.off', 'warning'],
    ['kill_switch.on', 'critical'],
  ]);
  expect(rows[0]!.subject).toBe(`Kill switch ON for account ${account}`);
  expect(new Set(rows.map((r) => r.dedupe_key)).size).toBe(3);
  expect((await post(false)).statusCode).toBe(200);
});

test('a drawdown breaker alerts once per level between resets, however many cycles record it', async () => {
  const deploymentId = randomUUID();
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', symbols: ['DD'], timeframe: '1d', accountId: account });
  await h.db.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`,
    [deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec)],
  );
  const { recordCycle } = createDeploymentActivities({ db: h.db });
  const verdict = (breaker: RiskVerdict['breaker']): RiskVerdict => ({
    decision: 'reject', qty: 0, breaker, forceClose: breaker === 'hard', reasons: [{ rule: `drawdown-${breaker}`, detail: 'equity 80 <= peak 100 x 0.85' }],
  });
  const record = (cycle: number, breaker: RiskVerdict['breaker']) =>
    recordCycle({
      deploymentId, paramsVersion: 1, latencyMs: 5, positions: {}, totalPnl: 0,
      record: { cycle, barClose: Date.UTC(2026, 0, 5) + cycle * 86_400_000, symbol: 'DD', action: 'rejected', clientOrderIds: [], risk: verdict(breaker) } satisfies CycleRecord,
    });
  await record(1, 'none');
  for (const cycle of [2, 3, 4]) await record(cycle, 'soft');
  await record(4, 'soft'); // a retried activity
  await record(5, 'hard');
  await record(6, 'hard');
  // an admin's reset, applied by the runtime; the breaker trips again afterwards: a new event
  await h.db.query(
    `INSERT INTO deployment_commands (id, deployment_id, kind, payload, requested_by, state, applied_at) VALUES ($1, $2, 'breaker-reset', '{"reason":"ok"}', 'ada', 'applied', now())`,
    [randomUUID(), deploymentId],
  );
  await record(7, 'soft');
  await record(8, 'soft');
  const rows = await alerts('risk.drawdown_breaker_%', 'deploymentId', deploymentId);
  expect(rows.map((r) => [r.kind, r.payload.cycle, r.payload.resets])).toEqual([
    ['risk.drawdown_breaker_soft', 2, 0],
    ['risk.drawdown_breaker_hard', 5, 0],
    ['risk.drawdown_breaker_soft', 7, 1],
  ]);
});

test('an order the broker rejects alerts once, retries included', async () => {
  const deploymentId = randomUUID();
  const symbol = uniqueSymbol('RJ');
  await admin.reset(1e9);
  await admin.setPrices({ [symbol]: 50 });
  const { placeOrder } = createOrderActivities({ db: h.db, brokers: { paper: paperBrokerPort(paper.url) } });
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, 1, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: 1, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side: 'buy', qty: 3, orderType: 'market', timeInForce: 'day',
  };
  await admin.setFaults({ seed: 21, reject: 1 });
  try {
    const first = await new MockActivityEnvironment().run(placeOrder, input);
    expect(first).toMatchObject({ state: 'REJECTED' });
    expect(await new MockActivityEnvironment().run(placeOrder, input)).toMatchObject({ state: 'REJECTED' });
  } finally {
    await admin.clearFaults();
  }
  const rows = await alerts('order.rejected', 'deploymentId', deploymentId);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ severity: 'warning', dedupe_key: `order-rejected:${input.clientOrderId}`, payload: { symbol, side: 'buy', qty: 3 } });
});

test('the broker circuit of the IO worker alerts when it opens and when it closes, once each', async () => {
  const config = testConfig({ PAPER_BROKER_URL: paper.url, BROKER_BREAKER_FAILURES: '2', BROKER_BREAKER_FAILURE_RATIO: '0', BROKER_BREAKER_COOLDOWN_MS: '500' });
  const deps = ioDeps(config, createLogger('silent'), h.db, redis);
  try {
    const broker = deps.brokers.paper as GuardedBroker;
    const guard = broker.key;
    // the guard key is per paper broker process: start from a closed circuit whatever ran before
    await redis.del(...(await redis.keys(`broker-guard:{${guard}}:*`)), 'none');
    await admin.setFaults({ seed: 22, readFaults: { http5xx: 1 } });
    for (let i = 0; i < 2; i++) await broker.getAccount().catch(() => undefined);
    await admin.clearFaults();
    await broker.getAccount().catch(() => undefined); // refused while open: no second "opened"
    await sleep(600);
    await broker.getAccount(); // the probe succeeds: closed
    await broker.getAccount();
    let rows: Awaited<ReturnType<typeof alerts>> = [];
    for (let i = 0; i < 50 && rows.length < 2; i++, await sleep(100)) rows = await alerts('broker.breaker_%', 'guard', guard);
    expect(rows.map((r) => [r.kind, r.severity])).toEqual([
      ['broker.breaker_opened', 'critical'],
      ['broker.breaker_closed', 'info'],
    ]);
    expect(rows[0]!.payload).toMatchObject({ mode: 'shared', failuresInWindow: 2 });
    expect(rows[0]!.payload.openedAt).toBe(rows[1]!.payload.openedAt);
  } finally {
    await admin.clearFaults();
    await deps.gatePool.end();
  }
});
