/**
 * The paper broker holds its account's row lock for each order's whole transaction, so the round trips under that
 * lock bound how many orders one account takes a second (a bar close's burst from 500 deployments on one account).
 * Counted here on the engine's own pool (real Postgres, in process): the statements a market buy and a market sell
 * send (one each: paper_submit, in autocommit), and the state they leave (cash, position, fills) as before.
 */
import { Pool } from 'pg';
import { createPaperBroker, type PaperBrokerApp } from '../../brokers/paper/app';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { type AlpacaBroker } from '../../brokers/alpaca/adapter';
import { onEachStatement } from '../../harness/pg-statements';
import { testStack } from '../helpers/stack';
import { adapterFor, marketBuy, marketSell, uniqueAccount } from './helpers';

/** Every statement sent through the pool's clients, in order. */
const sent: string[] = [];

/** A pool whose clients record each statement they send (every new client is patched as it connects). */
function countingPool(connectionString: string): Pool {
  return onEachStatement(new Pool({ connectionString, max: 4 }), (text) => sent.push(text));
}

let app: PaperBrokerApp;
let pool: Pool;
let broker: AlpacaBroker;
let admin: PaperBrokerAdmin;

beforeAll(async () => {
  pool = countingPool(testStack().DATABASE_URL);
  app = createPaperBroker({ pool, account: uniqueAccount('paperlock'), initialCash: 100_000 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  broker = adapterFor(url);
  admin = new PaperBrokerAdmin(url);
  await admin.reset(100_000);
  await admin.setPrices({ LOCKA: 50 });
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
});

test('a market order is one statement in autocommit (lock, checks, order, fill and effects in paper_submit); state as before', async () => {
  sent.length = 0;
  expect(await broker.submitOrder(marketBuy('LOCKA', 10))).toMatchObject({ kind: 'accepted', order: { status: 'filled', filledQty: 10, filledAvgPrice: 50 } });
  // before: BEGIN, then 6 under the lock (lock, checks, insert, order fill + position read, fill effects, COMMIT)
  expect(sent).toEqual([expect.stringMatching(/FROM paper_submit\(/)]);
  sent.length = 0;
  expect(await broker.submitOrder(marketSell('LOCKA', 4))).toMatchObject({ kind: 'accepted', order: { status: 'filled', filledQty: 4 } });
  expect(sent).toEqual([expect.stringMatching(/FROM paper_submit\(/)]);
  expect(await broker.listPositions()).toEqual([{ symbol: 'LOCKA', qty: 6, avgEntryPrice: 50, qtyAvailable: 6, currentPrice: 50 }]);
  expect(await broker.getAccount()).toEqual({ cash: 100_000 - 500 + 200, equity: 100_000, buyingPower: 99_700 });
  expect((await broker.listFills({})).map((f) => [f.side, f.qty, f.price])).toEqual([['buy', 10, 50], ['sell', 4, 50]]);
  // Selling the rest deletes the position row.
  expect((await broker.submitOrder(marketSell('LOCKA', 6))).kind).toBe('accepted');
  expect(await broker.listPositions()).toEqual([]);
  expect((await broker.getAccount()).cash).toBe(100_000);
});
