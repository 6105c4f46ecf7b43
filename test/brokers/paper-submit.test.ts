/**
 * The paper engine's execution in the database (db/migrations/0024_paper_submit.sql), on real Postgres through
 * PaperEngine: the slice and position arithmetic, the Alpaca-style fill ids, and what one-call submits do when many
 * arrive at once on one account. The function takes the account lock first and each later statement takes a fresh
 * snapshot, so every check sees the orders committed before the lock was granted: exactly the affordable orders of
 * a burst go through, and a client order id is used once.
 */
import { Pool } from 'pg';
import { onEachStatement } from '../../harness/pg-statements';
import { PaperEngine, type NewOrder, type SubmitResult } from '../../brokers/paper/engine';
import * as sql from '../../brokers/paper/sql';
import { testStack } from '../helpers/stack';
import { clientId, uniqueAccount } from './helpers';

let pool: Pool;

beforeAll(() => {
  // more connections than the burst's orders would need to run one at a time: the submits really overlap
  pool = new Pool({ connectionString: testStack().DATABASE_URL, max: 16 });
});

afterAll(async () => {
  await pool?.end();
});

function order(symbol: string, side: 'buy' | 'sell', qty: number, extra: Partial<NewOrder> = {}): NewOrder {
  return { clientOrderId: clientId(), symbol, side, type: 'market', timeInForce: 'day', qty, limitPrice: null, ...extra };
}

async function newEngine(cash: number, opts: { partialFillSlices?: number; now?: () => Date } = {}): Promise<PaperEngine> {
  const engine = new PaperEngine(pool, uniqueAccount('paper-submit'), opts);
  await engine.init(cash);
  return engine;
}

function filledQty(r: SubmitResult): number {
  if (r.kind !== 'created') throw new Error(`expected an order, got ${r.kind}`);
  return r.order.filled_qty;
}

test('slices keep integer quantities whole (at least 1) and split fractions; each slice is a fill with an Alpaca-style id', async () => {
  const at = new Date('2022-02-03T04:05:06.789Z');
  const engine = await newEngine(1_000_000, { partialFillSlices: 3, now: () => at });
  await engine.setPrices({ SLC: 10 });
  const ten = await engine.submit(order('SLC', 'buy', 10));
  const one = await engine.submit(order('SLC', 'buy', 1));
  const fraction = await engine.submit(order('SLC', 'buy', 1.5));
  expect([filledQty(ten), filledQty(one), filledQty(fraction)]).toEqual([4, 1, 0.5]);
  expect(await engine.tick()).toEqual({ fills: 2 });
  expect(await engine.tick()).toEqual({ fills: 1 });
  expect(await engine.tick()).toEqual({ fills: 0 });
  const fills = await sql.listFills(pool, engine.account, { direction: 'asc', pageSize: 100 });
  // 10 in 4, 3, 3; 1 at once; 1.5 in 0.5 then 1 (a whole remainder stays whole)
  expect(fills.map((f) => [f.qty, f.cum_qty, f.leaves_qty, f.order_status])).toEqual([
    [4, 4, 6, 'partially_filled'],
    [1, 1, 0, 'filled'],
    [0.5, 0.5, 1, 'partially_filled'],
    [3, 7, 3, 'partially_filled'],
    [1, 1.5, 0, 'filled'],
    [3, 10, 0, 'filled'],
  ]);
  for (const f of fills) expect(f.id).toMatch(/^20220203040506789::[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect((await engine.accountView()).cash).toBe(1_000_000 - 125);
});

test('average entry moves only when a position grows or flips; a flat position is deleted; cash follows each fill', async () => {
  const engine = await newEngine(100_000);
  const steps: Array<[side: 'buy' | 'sell', qty: number, price: number, position: Array<[number, number]>]> = [
    ['buy', 10, 100, [[10, 100]]],
    ['buy', 10, 110, [[20, 105]]],
    ['sell', 5, 120, [[15, 105]]],
    ['sell', 20, 90, [[-5, 90]]],
    ['buy', 5, 80, []],
  ];
  for (const [side, qty, price, position] of steps) {
    await engine.setPrices({ AVG: price });
    expect(filledQty(await engine.submit(order('AVG', side, qty)))).toBe(qty);
    expect((await sql.listPositions(pool, engine.account)).map((p) => [p.qty, p.avg_entry_price])).toEqual(position);
  }
  // -1000 -1100 +600 +1800 -400
  expect((await engine.accountView()).cash).toBe(100_000 - 1000 - 1100 + 600 + 1800 - 400);
});

test('a burst of limit buys on one account reserves cash one order at a time: exactly the affordable ones are accepted', async () => {
  const engine = await newEngine(10_000);
  await engine.setPrices({ BRST: 100 });
  // not marketable: each stays open and reserves 20 x 50 = 1,000 of the 10,000
  const results = await Promise.all(Array.from({ length: 30 }, () => engine.submit(order('BRST', 'buy', 20, { type: 'limit', limitPrice: 50 }))));
  const kinds = results.map((r) => r.kind);
  expect(kinds.filter((k) => k === 'created')).toHaveLength(10);
  expect(kinds.filter((k) => k === 'insufficient_buying_power')).toHaveLength(20);
  for (const r of results) if (r.kind === 'insufficient_buying_power') expect(r).toEqual({ kind: 'insufficient_buying_power', needed: 1000, available: 0 });
  expect(await sql.countState(pool, engine.account)).toEqual({ orders: 10, openOrders: 10, fills: 0, positions: 0 });
});

test('a burst of market buys on one account spends the cash one order at a time: exactly the affordable ones fill', async () => {
  const engine = await newEngine(10_000);
  await engine.setPrices({ BRST: 100 });
  const results = await Promise.all(Array.from({ length: 30 }, () => engine.submit(order('BRST', 'buy', 10))));
  expect(results.filter((r) => r.kind === 'created' && r.order.status === 'filled').length).toBe(10);
  expect(results.filter((r) => r.kind === 'insufficient_buying_power').length).toBe(20);
  expect(await engine.accountView()).toMatchObject({ cash: 0, buyingPower: 0 });
  expect(await sql.listPositions(pool, engine.account)).toMatchObject([{ symbol: 'BRST', qty: 100, avg_entry_price: 100 }]);
});

test('one client order id submitted many times at once makes exactly one order and one fill', async () => {
  const engine = await newEngine(10_000);
  await engine.setPrices({ DUP: 10 });
  const same = order('DUP', 'buy', 1);
  const kinds = (await Promise.all(Array.from({ length: 20 }, () => engine.submit(same)))).map((r) => r.kind);
  expect(kinds.filter((k) => k === 'created')).toHaveLength(1);
  expect(kinds.filter((k) => k === 'duplicate')).toHaveLength(19);
  expect(await sql.countState(pool, engine.account)).toEqual({ orders: 1, openOrders: 0, fills: 1, positions: 1 });
});

test('orders that arrive while a submit runs go in one call; two engines on one account still take exactly the affordable ones', async () => {
  // a pool of its own whose statements are counted (pool.query goes through a client too)
  const calls = { one: 0, many: 0 };
  const counted = onEachStatement(new Pool({ connectionString: testStack().DATABASE_URL, max: 16 }), (text) => {
    if (text.includes('paper_submit_many(')) calls.many++;
    else if (text.includes('paper_submit(')) calls.one++;
  });
  try {
    // two engines on one account, as two broker processes would be: the account lock still orders them
    const first = new PaperEngine(counted, uniqueAccount('paper-group'));
    await first.init(10_000);
    const second = new PaperEngine(counted, first.account);
    await first.setPrices({ GRP: 100 });
    calls.one = calls.many = 0;
    const buys = Array.from({ length: 40 }, () => order('GRP', 'buy', 10));
    // five more that reuse the client order ids of earlier orders of the burst, sent to the same engine after them
    const repeats = buys.slice(0, 5).map((b) => ({ ...b }));
    const results = await Promise.all([...buys, ...repeats].map((o, i) => (i % 2 === 0 ? first : second).submit(o)));
    const kinds = results.map((r) => r.kind);
    expect(kinds.slice(0, 40).filter((k) => k === 'created')).toHaveLength(10);
    expect(kinds.slice(0, 40).filter((k) => k === 'insufficient_buying_power')).toHaveLength(30);
    // a repeat of an order that was placed is a duplicate; of one refused, refused the same way (no order took its id)
    expect(kinds.slice(40)).toEqual(kinds.slice(0, 5).map((k) => (k === 'created' ? 'duplicate' : 'insufficient_buying_power')));
    expect(await first.accountView()).toMatchObject({ cash: 0, buyingPower: 0 });
    expect(await sql.listPositions(pool, first.account)).toMatchObject([{ symbol: 'GRP', qty: 100, avg_entry_price: 100 }]);
    // 45 orders: each engine's first alone, then what waited, in one call per engine and round
    expect(calls.many).toBeGreaterThanOrEqual(2);
    expect(calls.one + calls.many).toBeLessThan(10);
  } finally {
    await counted.end();
  }
});

test('a grouped call that fails as a whole is sent again order by order: only the order at fault fails', async () => {
  const engine = await newEngine(10_000);
  await engine.setPrices({ GFL: 10 });
  // the first goes alone; the nine after it wait and go in one call, which the database refuses for the one whose
  // client order id breaks the table's length check
  const orders = Array.from({ length: 10 }, (_, i) => order('GFL', 'buy', 1, i === 5 ? { clientOrderId: `x${'y'.repeat(60)}` } : {}));
  const settled = await Promise.allSettled(orders.map((o) => engine.submit(o)));
  expect(settled.map((r) => (r.status === 'fulfilled' ? r.value.kind : 'error'))).toEqual([...Array(5).fill('created'), 'error', ...Array(4).fill('created')]);
  expect(String((settled[5] as PromiseRejectedResult).reason)).toMatch(/check constraint/);
  expect(await sql.countState(pool, engine.account)).toEqual({ orders: 9, openOrders: 0, fills: 9, positions: 1 });
  // and the next burst groups again
  const next = await Promise.all(Array.from({ length: 5 }, () => engine.submit(order('GFL', 'buy', 1))));
  expect(next.map((r) => r.kind)).toEqual(Array(5).fill('created'));
});

test('an IOC order cancels what its first slice did not fill; no price and an unknown account are refused', async () => {
  const engine = await newEngine(10_000, { partialFillSlices: 2 });
  await engine.setPrices({ IOC: 10 });
  const ioc = await engine.submit(order('IOC', 'buy', 10, { timeInForce: 'ioc' }));
  expect(ioc).toMatchObject({ kind: 'created', order: { status: 'canceled', filled_qty: 5 } });
  expect(await engine.tick()).toEqual({ fills: 0 });
  expect(await engine.submit(order('NOPRICE', 'buy', 1))).toEqual({ kind: 'no_price' });
  const missing = new PaperEngine(pool, uniqueAccount('paper-missing'));
  await expect(missing.submit(order('IOC', 'buy', 1))).rejects.toThrow(/paper account ".*" does not exist/);
});
