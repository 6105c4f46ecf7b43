import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createDecidedOrderActivities } from '../../activities/decided-orders';
import { createDeploymentActActivities, type ActOnDeploymentActionArgs, type ActOnDeploymentActionResult } from '../../activities/deployment-act';
import { createDeploymentActionActivities } from '../../activities/deployment-actions';
import { createDeploymentActivities } from '../../activities/deployments';
import { createOrderActivities } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import type { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import type { PaperBrokerProcess } from '../../brokers/paper/start';
import type { ActionPayload } from '../../domain/deployment/batch';
import { actionLine } from '../../domain/deployment/order-line';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import type { OrderIntent } from '../../domain/risk/gate';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

/**
 * The order wake's line (the evaluator's `deploymentAct` carries it for the history; display only) against real
 * Postgres and the paper broker process: a real action id sent with a line that is not its stored action's is
 * refused like a forged id (audit row, no order, the action still pending); the wake with its true line acts.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
const account = `line-${randomUUID().slice(0, 8)}`;

usePaperProcess(account, (p) => {
  ({ pool, paper, admin } = p);
});

test("a wake whose line is not its action's is refused with an audit row and orders nothing; the true line's wake acts", async () => {
  const deploymentId = randomUUID();
  const workflowId = `deployment-${deploymentId}`;
  const symbol = uniqueSymbol('WLN');
  await admin.setPrices({ [symbol]: 3620 });
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '5m', accountId: account, broker: 'paper' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [deploymentId, workflowId, account, JSON.stringify(spec)]);
  const barClose = Date.UTC(2026, 11, 4, 15, 50);
  const actionId = `${deploymentId}:${barClose}`;
  const intent: OrderIntent = { symbol, side: 'buy', qty: 1, price: 3620, reason: 'signal' };
  const payload: ActionPayload = {
    barClose, cycle: 16, paramsVersion: 1, snapshot: { positions: { [symbol]: 0 }, totalPnl: 0, kill: { global: false, account: false, deployment: false } }, prices: { [symbol]: 3620 }, flatten: false,
    acts: [{ symbol, record: { cycle: 16, barClose, symbol, action: 'skip', clientOrderIds: [], signal: 1 }, action: { kind: 'order', intent, reducing: false, fillAtLevel: false } }],
  };
  await pool.query(`INSERT INTO deployment_actions (id, deployment_id, bar_close, cycle, params_version, payload) VALUES ($1, $2, $3, 16, 1, $4)`, [actionId, deploymentId, barClose, JSON.stringify(payload)]);

  const orders = createOrderActivities({ db: pool, brokers: { paper: paperBrokerPort(paper.url) } });
  const { recordCycle } = createDeploymentActivities({ db: pool });
  const actions = createDeploymentActionActivities({ db: pool });
  const { actOnDeploymentAction } = createDeploymentActActivities({
    loadDeploymentAction: actions.loadDeploymentAction,
    ...createDecidedOrderActivities({ placeOrder: orders.placeOrder, recordCycle, now: () => barClose + 1_500 }),
  });
  const args = (line: string, runKey = 'run-1'): ActOnDeploymentActionArgs => ({
    deploymentId, actionId, runKey, workflowId, broker: 'paper', accountId: account, startedAt: barClose + 1_000, wakeLine: { line, strategy: 'sma-cross' },
    facts: { status: 'running', shown: 'running', dataNow: barClose + 1_000, staleAfterBars: 2, timeframe: '5m' },
  });
  const run = (a: ActOnDeploymentActionArgs) => new MockActivityEnvironment().run(actOnDeploymentAction, a) as Promise<ActOnDeploymentActionResult>;
  const brokerOrders = async () => (await admin.stats()).orders;
  const refusals = async () =>
    (await pool.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM audit_log WHERE action = 'deployment.act.refused' AND subject = $1 ORDER BY id`, [deploymentId])).rows.map((r) => r.detail);
  const state = async () => (await pool.query('SELECT state FROM deployment_actions WHERE id = $1', [actionId])).rows;
  const before = await brokerOrders();

  const truth = actionLine(payload, 'sma-cross');
  expect(truth).toBe(`cycle 16 · signal buy 1 ${symbol} · sma-cross v1`);
  // Sent by hand: the real id, a line naming another order (a sell of 100, the same order under another strategy).
  for (const forged of [`cycle 16 · signal sell 100 ${symbol} · sma-cross v1`, `cycle 16 · signal buy 1 ${symbol} · other v1`]) {
    const refused = await run(args(forged, `run-${forged.length}`));
    expect(refused).toEqual({ loaded: { ok: false, reason: `the wake's line is not action ${actionId}'s`, lineRefused: true } });
  }
  expect(await brokerOrders()).toBe(before);
  expect(await state()).toEqual([{ state: 'pending' }]);
  expect(await refusals()).toMatchObject([
    { actionId, reason: `the wake's line is not action ${actionId}'s`, line: `cycle 16 · signal sell 100 ${symbol} · sma-cross v1` },
    { actionId, reason: `the wake's line is not action ${actionId}'s`, line: `cycle 16 · signal buy 1 ${symbol} · other v1` },
  ]);

  // The evaluator's wake, with the line built from the stored action: one order, its row, the action done.
  const acted = await run(args(truth!));
  expect(acted.loaded.ok).toBe(true);
  expect(acted.placed?.placed).toBeDefined();
  expect(await brokerOrders()).toBe(before + 1);
  expect(await state()).toEqual([{ state: 'done' }]);
  const rows = await pool.query('SELECT action, reason FROM deployment_cycles WHERE deployment_id = $1', [deploymentId]);
  expect(rows.rows).toEqual([{ action: 'order', reason: 'signal' }]);
  expect(await refusals()).toHaveLength(2);
});
