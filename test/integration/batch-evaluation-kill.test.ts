import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { paperBrokerPort } from '../../brokers';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { allocateBars, appendBar } from '../../domain/bars';
import { evaluationGroupKey, evaluationTiming } from '../../domain/deployment/batch';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { WorkerSupervisor } from '../../harness/processes/worker-supervisor';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import { evaluatorWorkflowId } from '../../workflows/workflow-ids';
import { storeBars, testPool, uniqueSymbol } from '../helpers/db';
import { waitFor, WORKER_BUNDLE_ENV, workerBundleArgs } from '../helpers/processes';
import { testStack } from '../helpers/stack';

/**
 * The IO worker process SIGKILLed (on the dev server, restarted by a supervisor) while the evaluator's activity
 * evaluates a group of 8 deployments that already trade, in real time: 1-minute bars replayed at 15x. The evaluation is retried once the
 * worker is gone (its heartbeat times out, 20 s: the test's 90 s budget is for that), writes nothing twice, and the
 * evaluator goes on with the closes after it: no close has its cycle rows twice, no order goes out twice, no action is
 * left pending.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let io: WorkerSupervisor;
let connection: Connection;
let temporal: Client;
let groupKey = '';
const account = `bek-${randomUUID().slice(0, 8)}`;
const symbols = Array.from({ length: 8 }, (_, i) => uniqueSymbol(`BK${i}`));
const MIN = 60_000;

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  const env = {
    PATH: process.env.PATH!, HOME: process.env.HOME!,
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, PAPER_BROKER_URL: paper.url, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000', EOD_SCHEDULER: 'off',
  };
  io = new WorkerSupervisor({ ...env, ...WORKER_BUNDLE_ENV }, 1, () => ({}), () => undefined, { logDir: path.join(__dirname, '..', '.artifacts', 'batch-evaluation-kill'), nodeArgs: workerBundleArgs('io') });
  io.start();
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  temporal = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
}, 60_000);

afterAll(async () => {
  if (groupKey) await temporal?.workflow.getHandle(evaluatorWorkflowId(groupKey)).terminate('test cleanup').catch(() => undefined);
  await io?.stop();
  await connection?.close();
  await paper?.stop();
  await pool?.end();
});

test('the IO worker killed mid-evaluation: the retry writes nothing twice, nothing is ordered twice, and evaluation goes on', async () => {
  const from = Date.UTC(2024, 0, 8);
  const n = 400;
  const bars = allocateBars(n);
  for (let i = 0; i < n; i++) {
    const price = 100 + 5 * Math.sin(i / 3) + i * 0.01;
    const open = i === 0 ? price : bars.close[i - 1];
    appendBar(bars, { ts: from + (i - 300) * MIN, open, high: Math.max(open, price) + 0.1, low: Math.min(open, price) - 0.1, close: price, volume: 1000 });
  }
  for (const s of symbols) await storeBars(pool, s, '1m', bars);
  await waitFor('the IO worker to run', async () => io.alive() === 1, 30_000);
  const replay = { from: new Date(from).toISOString(), speed: 15, wallStartMs: Date.now() };
  const specOf = (symbol: string) =>
    parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '1m', accountId: account, broker: 'paper', calendar: '24x7', settleDelayMs: 0, staleAfterBars: 5, evaluation: 'batch', riskLimits: { maxExposure: 1e6, maxPositionQty: 10 } });
  groupKey = evaluationGroupKey(evaluationTiming(specOf(symbols[0]!), { dataStartMs: from, wallStartMs: replay.wallStartMs, speed: 15 }));
  const deps = { db: pool, temporal };
  const deployments = [];
  for (const s of symbols) deployments.push(await createDeployment(deps, { spec: specOf(s), by: 'test', replay }));
  const ids = deployments.map((d) => d.id);

  // The kill: once an action was stored, at the next evaluation seen running (the evaluator's pending activity,
  // polled every few ms): mid-evaluation, so its attempt is lost and retried.
  const storedClose = async () => Number((await pool.query<{ c: string | null }>(`SELECT max(bar_close)::text AS c FROM deployment_actions WHERE deployment_id = ANY($1)`, [ids])).rows[0]!.c ?? 0);
  await waitFor('an action stored', async () => (await storedClose()) > 0, 40_000);
  const evaluatorHandle = temporal.workflow.getHandle(evaluatorWorkflowId(groupKey));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pending = (await evaluatorHandle.describe()).raw.pendingActivities ?? [];
    if (pending.some((a) => a.activityType?.name === 'evaluateBarClose' && a.attempt === 1 && Number(a.state) === 2 /* STARTED */)) break;
    if (Date.now() > deadline) throw new Error('no evaluation seen running');
  }
  expect(io.killOne(0)).toBe(true);
  const killedAt = await storedClose();
  await waitFor('the restarted worker', async () => io.alive() === 1, 30_000);
  // Evaluation goes on after the retry: closes after the killed one get their rows.
  await waitFor('closes evaluated after the kill', async () => (await pool.query(`SELECT 1 FROM deployment_cycles WHERE deployment_id = ANY($1) AND bar_close > to_timestamp($2 / 1000.0) + interval '3 minutes'`, [ids, killedAt])).rowCount! > 0, 45_000);
  await waitFor('no action left pending', async () => (await pool.query(`SELECT 1 FROM deployment_actions WHERE deployment_id = ANY($1) AND state = 'pending'`, [ids])).rowCount === 0, 20_000);
  for (const d of deployments) await issueDeploymentCommand(deps, { deploymentId: d.id, kind: 'stop', by: 'test' });
  for (const d of deployments) expect((await d.handle.result()).status).toBe('stopped');
  expect(io.stats).toMatchObject({ harnessKills: 1, restarts: 1, errorExits: 0 });

  // No close twice, every action once (performed or expired), every order once at the broker.
  const twice = await pool.query(`SELECT deployment_id, bar_close FROM deployment_cycles WHERE deployment_id = ANY($1) GROUP BY deployment_id, bar_close HAVING count(*) > 1`, [ids]);
  expect(twice.rows).toEqual([]);
  const risk = await pool.query<{ version: number; closes: number }>(
    `SELECT r.version, (SELECT count(DISTINCT bar_close)::int FROM deployment_cycles c WHERE c.deployment_id = r.deployment_id) AS closes FROM deployment_risk_states r WHERE r.deployment_id = ANY($1)`, [ids]);
  for (const r of risk.rows) expect(r.version).toBe(r.closes); // one risk-state write per close evaluated
  const actions = await pool.query<{ state: string }>(`SELECT state FROM deployment_actions WHERE deployment_id = ANY($1)`, [ids]);
  expect(actions.rows.length).toBeGreaterThan(0);
  expect(actions.rows.every((a) => a.state === 'done' || a.state === 'expired')).toBe(true);
  const ledger = await pool.query<{ client_order_id: string }>('SELECT client_order_id FROM order_ledger WHERE deployment_id = ANY($1)', [ids]);
  const orders = await paperBrokerPort(paper.url).listOrders({ status: 'all', limit: 500 });
  expect(orders.length).toBe(ledger.rowCount);
  expect(new Set(orders.map((o) => o.clientOrderId)).size).toBe(orders.length);
  const evaluator = await evaluatorHandle.fetchHistory();
  const retried = (evaluator.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
  console.log(`killed mid-evaluation; evaluations retried: ${retried}; actions ${actions.rowCount}, orders ${orders.length}`);
  expect(retried).toBe(1); // the kill landed while the evaluation ran
}, 90_000);
