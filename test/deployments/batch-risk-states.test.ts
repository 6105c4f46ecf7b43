import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { insertActions } from '../../db/sql/deployment-actions';
import { groupMembers, insertRiskState, writeRiskStates } from '../../db/sql/deployment-risk-states';
import { insertEvaluationGroup } from '../../db/sql/evaluation-groups';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { testPool } from '../helpers/db';

/**
 * The batch evaluator's write of a close (writeRiskStates), against real Postgres: a deployment whose row left running
 * is not evaluated, and a stop that commits while the evaluation's transaction is open waits for it, so a deployment's
 * workflow that has applied its stop finds every action the evaluator will ever store for it (chaos r1 found actions
 * stored after the stop, never performed: cycle numbers without their rows).
 */
let pool: Pool;

beforeAll(() => {
  pool = testPool();
});

/** Transactions a test opened: rolled back (if a failed expectation left them open) and released. */
const open: PoolClient[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) {
    await c.query('ROLLBACK').catch(() => undefined);
    c.release();
  }
});

afterAll(async () => {
  await pool?.end();
});

async function deployment(status: string, group?: string): Promise<string> {
  const id = randomUUID();
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: ['BRS'], timeframe: '1m', accountId: 'brs', broker: 'paper', evaluation: 'batch' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by, evaluation_group) VALUES ($1, $2, 'brs', 'paper', 'sma-cross', $3, $4, 'test', $5)`, [
    id, `deployment-${id}`, JSON.stringify(spec), status, group ?? null,
  ]);
  await pool.query(`INSERT INTO deployment_params (deployment_id, version, params, created_by) VALUES ($1, 1, '{"fast":3,"slow":8}', 'test')`, [id]);
  await insertRiskState(pool, id, { breaker: 'none', equityPeak: 1e6, day: '', dayStartPnl: 0 });
  return id;
}

const row = (deploymentId: string) => ({ deploymentId, version: 0, cycle: 1, state: { breaker: 'none', equityPeak: 1e6, day: '2025-03-04', dayStartPnl: 0 } });

async function inTx<T>(fn: (c: PoolClient) => Promise<T>): Promise<{ c: PoolClient; result: Promise<T> }> {
  const c = await pool.connect();
  await c.query('BEGIN');
  return { c, result: fn(c) };
}

const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('a deployment whose row left running (stopping, paused, stopped) is not written; a running or blocked one is', async () => {
  const ids = { running: await deployment('running'), blocked: await deployment('blocked'), stopping: await deployment('stopping'), paused: await deployment('paused'), stopped: await deployment('stopped') };
  const written = await writeRiskStates(pool, 1_000, Object.values(ids).map(row));
  expect([...written].sort()).toEqual([ids.running, ids.blocked].sort());
  const cycles = await pool.query<{ deployment_id: string; cycle: number }>('SELECT deployment_id, cycle FROM deployment_risk_states WHERE deployment_id = ANY($1)', [Object.values(ids)]);
  for (const r of cycles.rows) expect(r.cycle).toBe(written.has(r.deployment_id) ? 1 : 0);
});

test('a stop committed during the evaluation waits for it; an evaluation after an uncommitted stop waits and then drops the deployment', async () => {
  // The evaluation first: the stop waits until the close's writes (its actions) are committed.
  const a = await deployment('running');
  const evaluation = await inTx((c) => writeRiskStates(c, 1_000, [row(a)]));
  open.push(evaluation.c);
  expect([...(await evaluation.result)]).toEqual([a]);
  const stop = pool.query(`UPDATE deployments SET status = 'stopping' WHERE id = $1`, [a]);
  expect(await settledWithin(stop, 300)).toBe(false);
  await evaluation.c.query('COMMIT');
  await stop;

  // The stop first, not yet committed: the evaluation waits for it, then leaves the deployment out.
  const b = await deployment('running');
  const stopTx = await inTx((c) => c.query(`UPDATE deployments SET status = 'stopping' WHERE id = $1`, [b]));
  open.push(stopTx.c);
  await stopTx.result;
  const later = writeRiskStates(pool, 1_000, [row(b)]);
  expect(await settledWithin(later, 300)).toBe(false);
  await stopTx.c.query('COMMIT');
  expect((await later).size).toBe(0);
});

test('a deployment still acting on an earlier close (an action pending) is not a member of the next one; done, it is again', async () => {
  const group = `test-${randomUUID()}`;
  await insertEvaluationGroup(pool, { key: group, workflowId: `evaluator-${group}`, timing: { calendar: 'XNYS', timeframe: '1m', settleDelayMs: 0, staleAfterBars: 2 } });
  const [quiet, acting] = [await deployment('running', group), await deployment('running', group)];
  await deployment('paused', group); // never a member while paused
  await insertActions(pool, [{ id: `${acting}:1000`, deploymentId: acting, barClose: 1_000, cycle: 1, paramsVersion: 1, payload: {} }]);
  const members = async () => (await groupMembers(pool, group, 2_000)).map((m) => m.deploymentId);
  expect(await members()).toEqual([quiet]);
  await pool.query(`UPDATE deployment_actions SET state = 'done' WHERE id = $1`, [`${acting}:1000`]);
  expect((await members()).sort()).toEqual([quiet, acting].sort());
});
