/**
 * The ledger's named statements survive a column added to order_ledger while their connection lives. Postgres refuses
 * a prepared statement whose result columns changed ("cached plan must not change result type"); with `*` in them,
 * a migration run beside live workers would fail every order until the connections were replaced.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { getLedgerOrder, insertLedgerIntent, updateLedgerFromBrokerReturningRow } from '../../db/sql/order-ledger';
import { lockLedgerOrderReadingHalts } from '../../db/sql/submission-gate';
import { freshDatabase, type FreshDatabase } from '../maintenance/fresh-db';

let db: FreshDatabase;
let one: Pool;

beforeAll(async () => {
  db = await freshDatabase('ledger_cols');
  // one connection: every statement below runs on the connection that prepared it
  one = new Pool({ connectionString: db.url, max: 1 });
}, 120_000);

afterAll(async () => {
  await one?.end();
  await db?.drop();
});

const intent = (clientOrderId: string) => ({
  clientOrderId, deploymentId: randomUUID(), workflowId: `wf-${clientOrderId}`, cycle: 1, leg: 0, intentVersion: 1, broker: 'paper', accountId: 'acct',
  symbol: 'COLS', side: 'buy' as const, qty: 1, orderType: 'market' as const, timeInForce: 'day' as const, intentHash: 'h', dataTs: Date.UTC(2024, 0, 2),
});

/** Every named statement that returns ledger rows, on the one connection; the placement's order of use. */
async function runNamedStatements(clientOrderId: string) {
  const { order, created } = await insertLedgerIntent(one, intent(clientOrderId));
  expect(created).toBe(true);
  expect((await insertLedgerIntent(one, intent(clientOrderId))).created).toBe(false);
  expect((await getLedgerOrder(one, clientOrderId))?.state).toBe('INTENT');
  const c = await one.connect();
  try {
    await c.query('BEGIN');
    expect((await lockLedgerOrderReadingHalts(c, clientOrderId, order.accountId, order.deploymentId))?.order.clientOrderId).toBe(clientOrderId);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  const updated = await updateLedgerFromBrokerReturningRow(one, clientOrderId, { state: 'ACCEPTED', brokerOrderId: `b-${clientOrderId}` });
  expect(updated).toMatchObject({ state: 'ACCEPTED', brokerOrderId: `b-${clientOrderId}`, dataTs: Date.UTC(2024, 0, 2) });
}

test('a column added to order_ledger under live connections: the named statements keep working and return the same fields', async () => {
  await runNamedStatements('cols-before');
  await db.pool.query('ALTER TABLE order_ledger ADD COLUMN added_by_a_later_migration text');
  await runNamedStatements('cols-after');
  const before = await getLedgerOrder(one, 'cols-before');
  expect(Object.keys(before!).sort()).toEqual(Object.keys((await getLedgerOrder(one, 'cols-after'))!).sort());
}, 60_000);
