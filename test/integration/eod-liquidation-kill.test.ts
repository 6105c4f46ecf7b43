import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { recordLiquidation } from '../../db/liquidation-records';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { getLiquidation } from '../../db/sql/liquidations';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { eodWindow } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import { WorkerSupervisor } from '../../harness/processes/worker-supervisor';
import { startLiquidationWorkflow } from '../../services/liquidations';
import { testPool, uniqueSymbol } from '../helpers/db';
import { waitFor, WORKER_BUNDLE_ENV, workerBundleArgs } from '../helpers/processes';
import { testStack } from '../helpers/stack';

/**
 * The IO worker process SIGKILLed at the liquidation moment (on the dev server, restarted by a supervisor): once
 * right when the scope turns reduce-only (its audit row is committed), once when the first close's ledger row appears
 * (its submission in flight at a slow broker). The liquidation still ends flat in time at the broker, with every
 * close order sent once (one broker order per client order id, each known to the ledger).
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let io: WorkerSupervisor;
let connection: Connection;
let temporal: Client;
const account = `eodk-${randomUUID().slice(0, 8)}`;
const symbols = [uniqueSymbol('KA'), uniqueSymbol('KB'), uniqueSymbol('KC'), uniqueSymbol('KD')];
const qty = [5, 8, 13, 21];
const deploymentId = randomUUID();
const DAY = '2026-12-02'; // a Wednesday: a normal session, close 16:00 ET

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  await new PaperBrokerAdmin(paper.url).setPrices(Object.fromEntries(symbols.map((s, i) => [s, 10 + i])));
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols, timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
    deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
  ]);
  const env = {
    PATH: process.env.PATH!, HOME: process.env.HOME!,
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, PAPER_BROKER_URL: paper.url, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000', EOD_SCHEDULER: 'off',
  };
  io = new WorkerSupervisor({ ...env, ...WORKER_BUNDLE_ENV }, 1, () => ({}), () => undefined, { logDir: path.join(__dirname, '..', '.artifacts', 'eod-liquidation-kill'), nodeArgs: workerBundleArgs('io') });
  io.start();
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  temporal = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
}, 60_000);

afterAll(async () => {
  await temporal?.workflow.getHandle(`eod-${account}-${DAY}`).terminate('test cleanup').catch(() => undefined);
  await io?.stop();
  await connection?.close();
  await paper?.stop();
  await pool?.end();
});

/** An entry of the deployment through the real order activity, in this process (the positions to liquidate). */
async function entry(cycle: number, symbol: string, n: number): Promise<PlaceOrderResult> {
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, cycle, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side: 'buy', qty: n, orderType: 'market', timeInForce: 'day',
  };
  const acts = createOrderActivities({ db: pool, brokers: { paper: paperBrokerPort(paper.url) } });
  return (await new MockActivityEnvironment().run(acts.placeOrder, input)) as PlaceOrderResult;
}

/** Polls Postgres every 10 ms (the kill must land at the moment, not 200 ms later). */
async function when(what: string, sql: string, params: unknown[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await pool.query(sql, params)).rows.length === 0) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('SIGKILL of the IO worker at reduce-only and at the first close: flat in time, no duplicate order', async () => {
  for (const [i, s] of symbols.entries()) expect((await entry(i + 1, s, qty[i]!)).state).toBe('FILLED');
  await waitFor('the IO worker to run', async () => io.alive() === 1, 30_000);
  // A slow broker: each submission is held 400 ms, so the second kill finds a close in flight.
  const admin = new PaperBrokerAdmin(paper.url);
  await admin.setFaults({ seed: 12, submitLatencyMs: 400 });

  // The exchange's clock: 3 s of wall time before reduce-only (15:55 ET), running with the wall clock.
  const window = eodWindow('XNYS', DAY, 5)!;
  const clock = { dataStartMs: window.reduceOnlyAtMs - 3_000, wallStartMs: Date.now(), speed: 1 };
  const { liquidation } = await recordLiquidation(pool, {
    accountId: account, calendar: 'XNYS', trigger: 'manual', requestedBy: 'test', reason: 'kill test', scope: 'account', deploymentIds: [], brokers: ['paper'], marginMinutes: 5, window, clock,
  });
  await startLiquidationWorkflow({ db: pool, temporal }, liquidation);

  // Kill 1: the moment the scope turned reduce-only (its audit row committed, the activity not yet answered).
  await when('reduce-only', `SELECT 1 FROM audit_log WHERE action = 'eod.reduce-only.on' AND subject = $1`, [account]);
  expect(io.killOne(0)).toBe(true);
  const killedAtReduceOnly = Date.now();
  // Kill 2: the first close's ledger row (its submission held at the broker).
  await when('the first close', 'SELECT 1 FROM order_ledger WHERE workflow_id = $1', [liquidation.workflowId], 120_000);
  await waitFor('the restarted worker', async () => io.alive() === 1, 30_000);
  expect(io.killOne(0)).toBe(true);
  const killedAtFirstClose = Date.now();

  const done = await waitFor('the verdict', async () => {
    const l = await getLiquidation(pool, liquidation.id);
    return l && (l.status === 'flat' || l.status === 'not_flat') ? l : undefined;
  }, 200_000);
  expect(io.stats).toMatchObject({ harnessKills: 2, restarts: 2, errorExits: 0 });
  expect(done.status).toBe('flat');
  expect(done.report).toMatchObject({ flat: true, inTime: true, left: [] });
  expect(done.report!.verifiedAt).toBeLessThanOrEqual(done.flatByMs);
  const broker = paperBrokerPort(paper.url);
  for (const s of symbols) expect((await broker.getPosition(s))?.qty ?? 0).toBe(0);

  // No duplicate order: one broker order per client order id, every broker order known to the ledger, each close filled once.
  const dup = await pool.query('SELECT client_order_id, count(*)::int AS n FROM paper_orders WHERE account = $1 GROUP BY 1 HAVING count(*) > 1', [account]);
  expect(dup.rows).toEqual([]);
  const unknown = await pool.query('SELECT o.client_order_id FROM paper_orders o WHERE o.account = $1 AND NOT EXISTS (SELECT 1 FROM order_ledger l WHERE l.client_order_id = o.client_order_id)', [account]);
  expect(unknown.rows).toEqual([]);
  expect((await admin.stats()).duplicateClientOrderIds).toBe(0);
  const closes = await pool.query<{ symbol: string; filled: number }>(
    `SELECT symbol, sum(filled_qty)::float8 AS filled FROM order_ledger WHERE workflow_id = $1 GROUP BY 1 ORDER BY 1`, [liquidation.workflowId],
  );
  expect(closes.rows).toEqual(symbols.map((s, i) => ({ symbol: s, filled: qty[i] })).sort((a, b) => (a.symbol < b.symbol ? -1 : 1)));
  const verdictAt = done.report!.verifiedAt - clock.dataStartMs + clock.wallStartMs;
  console.log(
    `killed at reduce-only and ${killedAtFirstClose - killedAtReduceOnly} ms later at the first close; flat ${((verdictAt - killedAtReduceOnly) / 1000).toFixed(1)} s after the first kill ` +
      `(${((done.flatByMs - done.report!.verifiedAt) / 1000).toFixed(0)} s before the flat-by time), ${closes.rows.length} symbols, ${done.report!.orders} close orders over ${done.report!.rounds} rounds`,
  );
  await admin.clearFaults();
}, 300_000);
