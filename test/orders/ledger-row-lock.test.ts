import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { insertFills } from '../../db/sql/fills';
import { cancelLedgerRow, insertLedgerIntent, lockLedgerOrder } from '../../db/sql/order-ledger';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { testPool } from '../helpers/db';

/**
 * The lock a submission holds on its ledger row across the broker call (lockLedgerOrder), against real Postgres: a
 * stop's cancel waits for it, but storing a fill of that order does not. An account's fill ingest runs inside every
 * batch evaluation of the group; with the row locked FOR UPDATE its foreign key check waited for the broker's answer
 * (chaos r5: 10 s answers held every evaluation of the group for about 10 s).
 */
let pool: Pool;
let holder: PoolClient | undefined;

beforeAll(() => {
  pool = testPool();
});

afterEach(async () => {
  await holder?.query('ROLLBACK').catch(() => undefined);
  holder?.release();
  holder = undefined;
});

afterAll(async () => {
  await pool?.end();
});

const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('while a submission holds its ledger row, a fill of the order is stored at once and a cancel waits for the submission', async () => {
  const deploymentId = randomUUID();
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: ['LRL'], timeframe: '1m', accountId: 'lrl', broker: 'paper' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, 'lrl', 'paper', 'sma-cross', $3, 'running', 'test')`, [deploymentId, `deployment-${deploymentId}`, JSON.stringify(spec)]);
  const clientOrderId = `lrl-${randomUUID()}`;
  await insertLedgerIntent(pool, {
    clientOrderId, deploymentId, workflowId: `deployment-${deploymentId}`, cycle: 1, leg: 0, intentVersion: 1, broker: 'paper', accountId: 'lrl', symbol: 'LRL', side: 'buy', qty: 1,
    orderType: 'market', timeInForce: 'day', intentHash: 'h',
  });

  holder = await pool.connect();
  await holder.query('BEGIN');
  expect(await lockLedgerOrder(holder, clientOrderId)).toMatchObject({ clientOrderId });

  const fill = insertFills(pool, [{ broker: 'paper', brokerFillId: `f-${randomUUID()}`, clientOrderId, deploymentId, symbol: 'LRL', side: 'buy', qty: 1, price: 100, ts: new Date().toISOString() }]);
  expect(await settledWithin(fill, 2_000)).toBe(true);
  expect(await fill).toEqual([deploymentId]);

  const cancel = cancelLedgerRow(pool, clientOrderId, 'deployment stopped');
  expect(await settledWithin(cancel, 500)).toBe(false);
  await holder.query('COMMIT');
  expect(await cancel).toBe(true);
});
