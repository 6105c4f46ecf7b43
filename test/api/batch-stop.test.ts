import type { Pool } from 'pg';
import { insertActions } from '../../db/sql/deployment-actions';
import { claimCycle } from '../../db/sql/deployment-risk-states';
import type { ActionPayload } from '../../domain/deployment/batch';
import { KILL_SWITCH_OFF } from '../../domain/risk/gate';
import { uniqueSymbol } from '../helpers/db';
import { AUTH, type ApiHarness } from './harness';
import { eventually, FROM, ledgerRows, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * A batch-evaluated deployment that stops with an action decided for it and not yet performed (its evaluator stored it
 * just before the stop: chaos r1 and r3 found such actions left pending, their cycle numbers without rows). Its
 * workflow ends the action on the way out: the symbol's cycle row recorded as skipped, no order, the action expired,
 * and its cycle numbers without a hole. Through the API, a real IO worker, Postgres and the paper broker.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;

beforeAll(async () => {
  rt = await startRuntimeHarness('batchstop');
  ({ h, pool } = rt);
}, 60_000);

afterAll(async () => {
  // The group's evaluator outlives its deployments: end it with them.
  const evaluators = await pool?.query<{ workflow_id: string }>(`SELECT g.workflow_id FROM evaluation_groups g WHERE EXISTS (SELECT 1 FROM deployments d WHERE d.evaluation_group = g.key AND d.account_id = $1)`, [rt?.account]);
  await Promise.allSettled((evaluators?.rows ?? []).map((e) => h.deps.temporal.workflow.getHandle(e.workflow_id).terminate('test cleanup')));
  await rt?.close();
});

const post = (id: string, action: string) => h.app.inject({ method: 'POST', url: `/v1/deployments/${id}/${action}`, headers: AUTH.trader, payload: {} });

test('a stop with an action pending: the action ends expired, its cycle row says why no order went out, no cycle number is left without a row', async () => {
  const symbol = uniqueSymbol('BST');
  await rt.storePath(symbol, Array.from({ length: 120 }, () => 100)); // flat: the evaluator itself decides nothing to do
  const d = await rt.createDeployment(symbol, { evaluation: 'batch' });
  await eventually('quiet cycle rows from the evaluator', () => pool.query('SELECT 1 FROM deployment_cycles WHERE deployment_id = $1', [d.id]), (r) => (r.rowCount ?? 0) >= 2, 60_000);
  expect((await post(d.id, 'pause')).json()).toMatchObject({ applied: true, status: 'paused' });

  // What the evaluator stores when a close's evaluation commits just before a stop: a cycle number of the deployment's
  // and an order to place (a paused deployment is woken for it, and performs it only once running again).
  const cycle = (await claimCycle(pool, d.id))!;
  const barClose = FROM + 30 * 60_000;
  const record = { cycle, barClose, symbol, action: 'order' as const, reason: 'signal', clientOrderIds: [] };
  const payload: ActionPayload = {
    barClose, cycle, paramsVersion: 1, acts: [{ symbol, record, action: { kind: 'order', intent: { symbol, side: 'buy', qty: 1, price: 100, reason: 'signal' }, reducing: false, fillAtLevel: false } }],
    snapshot: { positions: {}, totalPnl: 0, kill: { ...KILL_SWITCH_OFF } }, prices: { [symbol]: 100 }, flatten: false,
  };
  const actionId = `${d.id}:${barClose}`;
  await insertActions(pool, [{ id: actionId, deploymentId: d.id, barClose, cycle, paramsVersion: 1, payload: payload as unknown as Record<string, unknown> }]);

  expect((await post(d.id, 'stop')).statusCode).toBe(202);
  expect(await h.deps.temporal.workflow.getHandle(d.workflowId).result()).toMatchObject({ status: 'stopped' });

  const action = await pool.query<{ state: string }>('SELECT state FROM deployment_actions WHERE id = $1', [actionId]);
  expect(action.rows[0]?.state).toBe('expired');
  const rows = await pool.query<{ cycle_seq: number; action: string; reason: string | null }>('SELECT cycle_seq, action, reason FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq', [d.id]);
  const row = rows.rows.find((r) => r.cycle_seq === cycle);
  expect(row).toMatchObject({ action: 'skip' });
  expect(row!.reason).toMatch(/^deployment (paused|stopping) since the close: no order/);
  const seqs = [...new Set(rows.rows.map((r) => r.cycle_seq))];
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect(await ledgerRows(pool, d.id)).toEqual([]);
}, 120_000);
