import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { paperBrokerPort } from '../../brokers';
import { guardBroker } from '../../brokers/guard';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { freePort } from '../../brokers/paper/start';
import { ordersElsewhere } from '../../harness/fixtures/brokers';
import { uniqueSymbol, lastCycle } from '../helpers/db';
import { AUTH, type ApiHarness } from './harness';
import { auditRows, eventually, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * Stop, pause and flatten while an order is in flight, end to end (API, a real IO worker, Postgres, Redis, the paper
 * broker process) on 1-minute bars replayed at 60x. Two brokers: `paper`, the paper broker (with fault injection for
 * an order the broker executes and then does not answer), and `alpaca`, which reads from the paper broker but sends
 * its orders to a port where nothing listens, behind the shared broker guard with a breaker that opens after three
 * failures: an order that never reaches any broker and retries, the case that used to keep a stopped deployment busy
 * for 75 s.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;
let admin: PaperBrokerAdmin;
const guardKey = `alpaca:inflight-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  const deadPort = await freePort();
  rt = await startRuntimeHarness('inflight', {
    brokers: ({ paper, redis }) => {
      const reads = paperBrokerPort(paper.url);
      const dead = guardBroker(paperBrokerPort(`http://127.0.0.1:${deadPort}`), {
        redis,
        logger: { debug() {}, info() {}, warn() {} },
        key: guardKey,
        breaker: { failures: 3, failureRatio: 0, windowMs: 60_000, cooldownMs: 120_000 },
      });
      const unreachable = ordersElsewhere(reads, dead, 'alpaca');
      return { paper: reads, alpaca: unreachable };
    },
  });
  ({ h, pool } = rt);
  admin = new PaperBrokerAdmin(rt.paper.url);
}, 60_000);

afterAll(async () => {
  await admin?.clearFaults().catch(() => undefined);
  // The batch deployments' evaluators outlive them: end them too.
  const evaluators = await pool?.query<{ workflow_id: string }>(`SELECT g.workflow_id FROM evaluation_groups g WHERE EXISTS (SELECT 1 FROM deployments d WHERE d.evaluation_group = g.key AND d.account_id = $1)`, [rt?.account]);
  await Promise.allSettled((evaluators?.rows ?? []).map((e) => h.deps.temporal.workflow.getHandle(e.workflow_id).terminate('test cleanup')));
  await rt?.close();
});

/** Falling lead-in, then an up-cross at bar 5 (sma-cross 2/4 buys), then a slow rise. */
const ENTRY_PATH = [100, 99.9, 99.8, 99.7, 99.6, 102, 103, ...Array.from({ length: 300 }, (_, i) => 103 + i * 0.01)];

interface Detail {
  status: string;
  statusReason: string | null;
  state: { source: string; status: string; cycle: number | null; waitingOn: string | null; inflightOrder: { clientOrderId: string; resolving: boolean } | null };
  blockers: Array<Record<string, unknown> & { kind: string }>;
}
const detail = async (id: string) => (await h.app.inject({ method: 'GET', url: `/v1/deployments/${id}`, headers: AUTH.viewer })).json<Detail>();
const post = (id: string, action: string, payload: Record<string, unknown> = {}) => h.app.inject({ method: 'POST', url: `/v1/deployments/${id}/${action}`, headers: AUTH.trader, payload });
const ledger = async (deploymentId: string) =>
  (await pool.query<{ client_order_id: string; state: string; reject_reason: string | null; submit_attempts: number; unsent_attempts: number; side: string }>(
    'SELECT client_order_id, state, reject_reason, submit_attempts, unsent_attempts, side FROM order_ledger WHERE deployment_id = $1 ORDER BY created_at',
    [deploymentId],
  )).rows;
const cycleRows = async (deploymentId: string) =>
  (await pool.query<{ cycle_seq: number; action: string; reason: string | null }>('SELECT cycle_seq, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq', [deploymentId])).rows;
const row = async (id: string) => (await pool.query<{ status: string; status_reason: string | null }>('SELECT status, status_reason FROM deployments WHERE id = $1', [id])).rows[0]!;
/**
 * An order at the broker (its ledger row SUBMITTING: committed before the send). Read from the ledger, not the state
 * query: a batch deployment's decided order first goes out as a local activity, whose workflow task answers no query.
 */
const atBroker = (id: string) => eventually('an order at the broker', () => ledger(id), (l) => l.some((o) => o.state === 'SUBMITTING'), 60_000);

type Evaluation = 'deployment' | 'batch';

/**
 * Each scenario in both evaluation modes at once, on symbols of their own: a deployment deciding its own closes, and
 * a batch-evaluated one whose order was decided by its group's evaluator and goes out from its wake
 * (workflows/deployment/acts.ts: actOnDeploymentAction, then placeOrder when its short attempt failed). Together the
 * two wait out the 60x lead-in once. Both run to their end before the scenario fails, naming its mode.
 */
async function inBothModes<T>(fn: (evaluation: Evaluation) => Promise<T>): Promise<Record<Evaluation, T>> {
  const modes = ['deployment', 'batch'] as const;
  const runs = await Promise.allSettled(modes.map((evaluation) =>
    fn(evaluation).catch((err: Error) => {
      err.message = `${evaluation} evaluation: ${err.message}`;
      throw err;
    }),
  ));
  const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [deployment, batch] = runs.map((r) => (r as PromiseFulfilledResult<T>).value) as [T, T];
  return { deployment, batch };
}

test('stop while an order to an unreachable broker retries: the order is cancelled unsent, the blockers showed it, stopped in seconds', () => inBothModes(async (evaluation) => {
  const symbol = uniqueSymbol('STP');
  await rt.storePath(symbol, ENTRY_PATH);
  const d = await rt.createDeployment(symbol, { broker: 'alpaca', evaluation });

  // The entry goes out and cannot reach the broker: connection refused, then the guard's open breaker.
  const inFlight = await eventually('an order in flight', () => rt.state(d.workflowId), (s) => s.inflightOrder !== null, 60_000);
  const coid = inFlight.inflightOrder!.clientOrderId;
  const seen = await eventually('the order and the open breaker as blockers', () => detail(d.id), (x) => x.blockers.some((b) => b.kind === 'broker-breaker' && b.guard === guardKey) && x.blockers.some((b) => b.kind === 'unresolved-order' && (b.attempts as number) >= 3), 30_000);
  expect(seen).toMatchObject({ status: 'running', state: { source: 'workflow', status: 'running', inflightOrder: { clientOrderId: coid, resolving: false } } });
  expect(seen.state.waitingOn).toContain(`order ${coid}`);
  const order = seen.blockers.find((b) => b.kind === 'unresolved-order')!;
  expect(order).toMatchObject({ clientOrderId: coid, side: 'buy' });
  // Every attempt known not to have reached the broker, but one that is under way as the API reads it (counted when
  // it starts, its refusal recorded when it ends: the ledger after the stop below has every attempt settled).
  expect(order.attempts as number).toBeGreaterThanOrEqual(order.unsentAttempts as number);
  expect((order.attempts as number) - (order.unsentAttempts as number)).toBeLessThanOrEqual(1);
  expect(String(order.lastError)).toMatch(/ECONNREFUSED|circuit open/);
  expect(seen.blockers.find((b) => b.kind === 'broker-breaker' && b.guard === guardKey)).toMatchObject({ state: 'open', openForMs: expect.any(Number) });

  const t0 = Date.now();
  const res = await post(d.id, 'stop', { reason: 'broker down' });
  expect(res.statusCode).toBe(202);
  expect(res.json()).toMatchObject({ applied: true, status: 'stopping' });
  const result = await h.deps.temporal.workflow.getHandle(d.workflowId).result();
  const stopMs = Date.now() - t0;
  expect(result).toMatchObject({ status: 'stopped', reason: 'broker down' });
  expect(stopMs).toBeLessThan(10_000);
  console.log(`stop with an unsent order in flight: ${stopMs} ms from the stop request to the workflow's end`);

  // Truthful end state: the row, the ledger, the cycle row, the broker.
  expect(await row(d.id)).toEqual({ status: 'stopped', status_reason: 'broker down' });
  const [l] = await ledger(d.id);
  expect(l).toMatchObject({ client_order_id: coid, state: 'CANCELED' });
  expect(l!.reject_reason).toMatch(/^deployment stopped by tom: never sent/);
  expect(l!.unsent_attempts).toBe(l!.submit_attempts);
  expect((await cycleRows(d.id)).find((c) => c.action === 'cancelled')?.reason).toMatch(/never sent/);
  expect(await paperBrokerPort(rt.paper.url).getOrderByClientId(coid)).toBeNull();
  const after = await detail(d.id);
  expect(after).toMatchObject({ status: 'stopped', state: { source: 'row', status: 'stopped' } });
  expect(after.blockers.filter((b) => b.kind === 'unresolved-order')).toEqual([]);
  expect((await auditRows(pool, d.id)).map((a) => a.action)).toEqual(expect.arrayContaining(['deployment.stop', 'deployment.stop.applied', 'deployment.stopped']));
}), 120_000);

test('pause while an order to an unreachable broker retries: cancelled unsent, paused at once; a resume cycles again', () => inBothModes(async (evaluation) => {
  const symbol = uniqueSymbol('PAU');
  await rt.storePath(symbol, ENTRY_PATH);
  const d = await rt.createDeployment(symbol, { broker: 'alpaca', evaluation });
  const inFlight = await eventually('an order in flight', () => rt.state(d.workflowId), (s) => s.inflightOrder !== null, 60_000);
  const coid = inFlight.inflightOrder!.clientOrderId;

  const res = await post(d.id, 'pause', { reason: 'broker down' });
  expect(res.json()).toMatchObject({ applied: true, status: 'paused' });
  await eventually('the order resolved', () => ledger(d.id), (l) => l[0]?.state === 'CANCELED', 15_000);
  const paused = await eventually('paused and waiting', () => rt.state(d.workflowId), (s) => s.inflightOrder === null && s.waitingOn.startsWith('paused'));
  expect(paused.status).toBe('paused');
  expect(await row(d.id)).toEqual({ status: 'paused', status_reason: 'broker down' });
  expect((await ledger(d.id))[0]!.reject_reason).toMatch(/^deployment paused by tom: never sent/);

  // Resumed, it cycles again (the up-cross it wanted to trade has passed: it holds, sending nothing).
  const cycle = await lastCycle(pool, d.id);
  expect((await post(d.id, 'resume')).json()).toMatchObject({ applied: true, status: 'running' });
  await eventually('cycles after the resume', () => lastCycle(pool, d.id), (c) => c >= cycle + 3, 60_000);
  expect(await rt.state(d.workflowId)).toMatchObject({ status: 'running', inflightOrder: null });
  expect(await row(d.id)).toEqual({ status: 'running', status_reason: null });
  expect((await post(d.id, 'stop')).statusCode).toBe(202);
  await h.deps.temporal.workflow.getHandle(d.workflowId).result();
  expect((await ledger(d.id)).map((l) => [l.client_order_id, l.state])).toEqual([[coid, 'CANCELED']]);
}), 120_000);

// The paper broker's faults are the broker's, not a deployment's: on for both modes' entries, then off.
test('stop while the broker holds an executed order unanswered: resolved by lookup (not abandoned), then stopped', async () => {
  await admin.setFaults({ seed: 3, executeThenTimeout: 1, timeoutMs: 6_000 });
  try {
    await inBothModes(async (evaluation) => {
      const symbol = uniqueSymbol('HLD');
      await rt.storePath(symbol, ENTRY_PATH);
      const d = await rt.createDeployment(symbol, { evaluation });
      const coid = (await atBroker(d.id)).find((o) => o.state === 'SUBMITTING')!.client_order_id;
      const res = await post(d.id, 'stop');
      expect(res.json()).toMatchObject({ applied: true, status: 'stopping' });
      const stopping = await detail(d.id);
      expect(stopping.status).toBe('stopping');
      const result = await h.deps.temporal.workflow.getHandle(d.workflowId).result();
      expect(result.status).toBe('stopped');
      // The broker had it: the ledger says what the broker says, and the cycle recorded the order.
      const broker = await paperBrokerPort(rt.paper.url).getOrderByClientId(coid);
      expect(broker?.status).toBe('filled');
      expect((await ledger(d.id))[0]).toMatchObject({ client_order_id: coid, state: 'FILLED' });
      expect((await cycleRows(d.id)).some((c) => c.action === 'order')).toBe(true);
      expect(await row(d.id)).toMatchObject({ status: 'stopped' });
    });
  } finally {
    await admin.clearFaults();
  }
}, 120_000);

test('flatten while an entry is in flight: the entry is resolved first (here: filled at the broker), then flatten closes it', async () => {
  await admin.setFaults({ seed: 4, executeThenTimeout: 1, timeoutMs: 6_000 });
  let deployments: Record<Evaluation, { id: string; workflowId: string }>;
  try {
    deployments = await inBothModes(async (evaluation) => {
      const symbol = uniqueSymbol('FLT');
      await rt.storePath(symbol, ENTRY_PATH);
      const d = await rt.createDeployment(symbol, { evaluation });
      await atBroker(d.id);
      const res = await post(d.id, 'flatten', { reason: 'risk off' });
      expect(res.json()).toMatchObject({ applied: true, status: 'running' });
      return d;
    });
  } finally {
    await admin.clearFaults();
  }
  await inBothModes(async (evaluation) => {
    const d = deployments[evaluation];
    // The entry (buy) was resolved by lookup, then the flatten sold what it bought.
    const orders = await eventually('entry and flatten orders', () => ledger(d.id), (l) => l.length >= 2 && l.every((o) => o.state === 'FILLED'), 60_000);
    expect(orders.slice(0, 2).map((o) => o.side)).toEqual(['buy', 'sell']);
    // Flat once both fills are stored (the next sync reads them).
    const positions = async () => (await h.app.inject({ method: 'GET', url: `/v1/positions?deploymentId=${d.id}`, headers: AUTH.viewer })).json<{ positions: Array<{ qty: number; fills: number }> }>().positions;
    const flat = await eventually('flat', positions, (p) => p.length === 1 && p[0]!.fills >= 2 && Math.abs(p[0]!.qty) < 1e-9, 30_000);
    expect(flat[0]!.fills).toBe(2);
    expect((await cycleRows(d.id)).some((c) => c.reason === 'flatten' && c.action === 'order')).toBe(true);
    expect((await post(d.id, 'stop')).statusCode).toBe(202);
    await h.deps.temporal.workflow.getHandle(d.workflowId).result();
    // Nothing else went out, before the stop or on the way out: the entry once, the flatten once.
    expect((await ledger(d.id)).map((o) => [o.side, o.state])).toEqual([['buy', 'FILLED'], ['sell', 'FILLED']]);
    expect((await positions())[0]).toMatchObject({ qty: 0, fills: 2 });
  });
}, 120_000);
