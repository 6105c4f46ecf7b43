import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import type { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import type { PaperBrokerProcess } from '../../brokers/paper/start';
import { getLedgerOrder } from '../../db/sql/order-ledger';
import { setHalt, takeTradingGate } from '../../db/sql/trading-halts';
import { statementText, type ConnectionPool, type PreparedStatement } from '../../db/sql/queryable';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { clientOrderId } from '../../domain/ids';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

/**
 * Round trips to Postgres per order placement (each costs CPU in the IO worker's pg client and in Postgres; a bar
 * close of a large group places many orders at once), counted through the pool and the gate connection like
 * bench/batch-reads.ts counts them. Real Postgres, the real paper broker.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
let admin: PaperBrokerAdmin;
const account = `stmts-${randomUUID().slice(0, 8)}`;
const deploymentId = randomUUID();
const symbol = uniqueSymbol('ST');

usePaperProcess(account, async (p) => {
  ({ pool, paper, admin } = p);
  await admin.setPrices({ [symbol]: 10 });
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: [symbol], timeframe: '1m', accountId: account, broker: 'paper', calendar: '24x7' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
    deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec),
  ]);
});

/** The pool, with every statement it or a client it hands out sends recorded (its first words). */
function countingPool(sent: string[]): ConnectionPool {
  const note = (s: string | PreparedStatement) => sent.push(statementText(s).replace(/\s+/g, ' ').trim().slice(0, 60));
  return {
    query: (s, values) => (note(s), pool.query(s, values)),
    connect: async () => {
      const client = await pool.connect();
      return { query: (s: string | PreparedStatement, values?: unknown[]) => (note(s), client.query(s, values)), release: (err?: Error | boolean) => client.release(err) };
    },
  } as ConnectionPool;
}

let cycle = 0;
async function place(side: 'buy' | 'sell', entry: boolean): Promise<{ result: PlaceOrderResult; sent: string[] }> {
  const sent: string[] = [];
  const acts = createOrderActivities({ db: countingPool(sent), brokers: { paper: paperBrokerPort(paper.url) } });
  const c = ++cycle;
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, c, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: c, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side, qty: 2, orderType: 'market', timeInForce: 'day', ...(entry ? { symbolLock: { ttlMs: 60_000 } } : {}),
  };
  const result = (await new MockActivityEnvironment().run(acts.placeOrder, input)) as PlaceOrderResult;
  return { result, sent };
}

test('a new entry order takes 6 round trips to Postgres and an exit 5 (10 and 9 at first, 7 and 6 before a new row was written SUBMITTING at once), and returns the row as stored', async () => {
  const entry = await place('buy', true);
  console.log(`new entry order, ${entry.sent.length} round trips:\n${entry.sent.join('\n')}`);
  expect(['ACCEPTED', 'FILLED']).toContain(entry.result.state);
  expect(entry.sent).toHaveLength(6);
  // A new row is written SUBMITTING with its attempt counted: no separate mark.
  expect(entry.sent.some((s) => s.startsWith(`UPDATE order_ledger SET state = 'SUBMITTING'`))).toBe(false);
  expect(await getLedgerOrder(pool, entry.result.clientOrderId)).toMatchObject({ submitAttempts: 1, unsentAttempts: 0 });

  const exit = await place('sell', false);
  console.log(`exit order, ${exit.sent.length} round trips:\n${exit.sent.join('\n')}`);
  expect(['ACCEPTED', 'FILLED']).toContain(exit.result.state);
  expect(exit.sent).toHaveLength(5);

  // The result is the ledger's row as the broker's answer left it, as a read after the update gives it.
  for (const { result } of [entry, exit]) {
    const row = (await getLedgerOrder(pool, result.clientOrderId))!;
    expect(result).toMatchObject({ clientOrderId: row.clientOrderId, state: row.state, brokerOrderId: row.brokerOrderId });
    expect(row.brokerOrderId).toEqual(expect.any(String));
  }
});

test('a halt committed while a placement waits for the trading gate is seen by its check: nothing is sent', async () => {
  const sent: string[] = [];
  const acts = createOrderActivities({ db: countingPool(sent), brokers: { paper: paperBrokerPort(paper.url) } });
  const other = randomUUID();
  const c = ++cycle;
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${other}`, c, 0, 1), deploymentId: other, workflowId: `deployment-${other}`, cycle: c, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side: 'buy', qty: 1, orderType: 'market', timeInForce: 'day',
  };
  const ordersBefore = (await admin.stats()).orders;
  // The kill switch's own transaction (services/kill-switch.ts): the gate exclusively, the halt written, not committed yet.
  const halt = await pool.connect();
  try {
    await halt.query('BEGIN');
    await takeTradingGate(halt);
    await setHalt(halt, 'deployment', other, true, 'gate test', 'ada');
    const placing = new MockActivityEnvironment().run(acts.placeOrder, input) as Promise<PlaceOrderResult>;
    // The placement has written its row and is waiting for the gate when the halt commits.
    for (let i = 0; i < 100 && !sent.some((s) => s.includes('pg_advisory_xact_lock_shared')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(sent.some((s) => s.includes('pg_advisory_xact_lock_shared'))).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    await halt.query('COMMIT');
    expect(await placing).toMatchObject({ state: 'REJECTED', rejectReason: expect.stringMatching(/^kill switch \(deployment\) is on/) });
    expect((await admin.stats()).orders).toBe(ordersBefore);
  } finally {
    await halt.query('ROLLBACK').catch(() => undefined);
    halt.release();
    await setHalt(pool, 'deployment', other, false, 'gate test over', 'ada');
  }
});
