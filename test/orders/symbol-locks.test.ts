import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { createOrderActivities, type PlaceOrderInput, type PlaceOrderResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import type { PaperBrokerProcess } from '../../brokers/paper/start';
import { acquireSymbolLock, listSymbolLocks } from '../../db/sql/symbol-locks';
import { clientOrderId } from '../../domain/ids';
import { uniqueSymbol } from '../helpers/db';
import { usePaperProcess } from '../helpers/paper-process';

/**
 * Symbol locks: one holder per (account, symbol), taken in the order activity before an entry's ledger row. Many
 * deployments of one account race for the same symbols at once (separate pools, real Postgres, the real paper
 * broker): never two holders, the losers send nothing, a flat holder's sync releases, a stopped holder or a lapsed
 * lease is taken over.
 */
let pool: Pool;
let paper: PaperBrokerProcess;
const account = `lock-${randomUUID().slice(0, 8)}`;
const DEPLOYMENTS = 16;
const deployments = Array.from({ length: DEPLOYMENTS }, () => randomUUID());
const symbols = [uniqueSymbol('LKA'), uniqueSymbol('LKB'), uniqueSymbol('LKC'), uniqueSymbol('LKD')];
let cycle = 0;

usePaperProcess(account, async (p) => {
  ({ pool, paper } = p);
  await new PaperBrokerAdmin(paper.url).setPrices(Object.fromEntries(symbols.map((s) => [s, 10])));
  // a spec like the API records (GET /v1/deployments shows every row)
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols, timeframe: '1m', accountId: account, broker: 'paper', calendar: '24x7' });
  for (const id of deployments) {
    await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
      id, `deployment-${id}`, account, JSON.stringify(spec),
    ]);
  }
});

const acts = () => createOrderActivities({ db: pool, brokers: { paper: paperBrokerPort(paper.url) }, accountSyncEveryMs: 0 });

function place(deploymentId: string, symbol: string, side: 'buy' | 'sell', qty: number, lock = side === 'buy'): Promise<PlaceOrderResult> {
  const c = ++cycle;
  const input: PlaceOrderInput = {
    clientOrderId: clientOrderId(`deployment-${deploymentId}`, c, 0, 1), deploymentId, workflowId: `deployment-${deploymentId}`, cycle: c, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side, qty, orderType: 'market', timeInForce: 'day', ...(lock ? { symbolLock: { ttlMs: 60_000 } } : {}),
  };
  return new MockActivityEnvironment().run(acts().placeOrder, input) as Promise<PlaceOrderResult>;
}

const sync = (deploymentId: string) => new MockActivityEnvironment().run(acts().syncOrders, { deploymentId, broker: 'paper', accountId: account });

test(`${DEPLOYMENTS} deployments race for ${symbols.length} symbols at once, 3 rounds: one holder each, the losers send nothing`, async () => {
  const broker = paperBrokerPort(paper.url);
  for (let round = 0; round < 3; round++) {
    const attempts = deployments.flatMap((d) => symbols.map((s) => ({ d, s })));
    const results = await Promise.all(attempts.map(({ d, s }) => place(d, s, 'buy', 1)));
    const locks = await listSymbolLocks(pool, account);
    expect(locks.map((l) => l.symbol)).toEqual([...symbols].sort());
    for (const s of symbols) {
      const holder = locks.find((l) => l.symbol === s)!.holder;
      const mine = results.filter((_, i) => attempts[i]!.s === s);
      const sent = mine.filter((r) => r.state !== 'REJECTED');
      // round 0: exactly one winner; later rounds: the holder adds again, every other is refused
      expect(sent).toHaveLength(1);
      expect(attempts[results.indexOf(sent[0]!)]!.d).toBe(holder);
      for (const r of mine.filter((x) => x.state === 'REJECTED')) {
        expect(r.rejectReason).toMatch(new RegExp(`^symbol-locked: ${s} on ${account} is held by deployment ${holder}$`));
        expect(r.lockedBy).toBe(holder);
      }
    }
    // nothing was written or sent for a loser
    const ledger = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM order_ledger WHERE account_id = $1', [account]);
    expect(ledger.rows[0]!.n).toBe(symbols.length * (round + 1));
    expect(await broker.listOrders({ status: 'all', limit: 500 })).toHaveLength(symbols.length * (round + 1));
  }
}, 120_000);

test('the holder keeps the lock while it holds the position, releases it when flat; then another deployment may enter', async () => {
  const s = symbols[0]!;
  const holder = (await listSymbolLocks(pool, account)).find((l) => l.symbol === s)!.holder;
  const other = deployments.find((d) => d !== holder)!;
  await sync(holder);
  expect((await listSymbolLocks(pool, account)).find((l) => l.symbol === s)?.holder).toBe(holder);
  expect((await place(other, s, 'buy', 1)).state).toBe('REJECTED');
  // the holder closes its 3 and syncs: flat, so the lock goes
  expect((await place(holder, s, 'sell', 3)).state).toBe('FILLED');
  await sync(holder);
  expect((await listSymbolLocks(pool, account)).find((l) => l.symbol === s)).toBeUndefined();
  expect((await place(other, s, 'buy', 2)).state).toBe('FILLED');
  expect((await listSymbolLocks(pool, account)).find((l) => l.symbol === s)?.holder).toBe(other);
});

test('a stopped holder, or one whose lease lapsed, loses the lock to the next taker (exactly one of many)', async () => {
  const [s1, s2] = [symbols[1]!, symbols[2]!];
  const h1 = (await listSymbolLocks(pool, account)).find((l) => l.symbol === s1)!.holder;
  await pool.query(`UPDATE deployments SET status = 'stopped' WHERE id = $1`, [h1]);
  const takers = deployments.filter((d) => d !== h1);
  const taken = await Promise.all(takers.map((d) => acquireSymbolLock(pool, { accountId: account, symbol: s1, holder: d, ttlMs: 60_000 })));
  expect(taken.filter((t) => t.taken)).toHaveLength(1);
  const h2 = (await listSymbolLocks(pool, account)).find((l) => l.symbol === s2)!.holder;
  await pool.query(`UPDATE symbol_locks SET expires_at = now() - interval '1 second' WHERE account_id = $1 AND symbol = $2`, [account, s2]);
  // h1 is stopped now: a stopped deployment enters nothing (and a lock it took would be free to the next taker at once)
  const lapsed = await Promise.all(deployments.filter((d) => d !== h2 && d !== h1).map((d) => acquireSymbolLock(pool, { accountId: account, symbol: s2, holder: d, ttlMs: 60_000 })));
  expect(lapsed.filter((t) => t.taken)).toHaveLength(1);
  expect((await listSymbolLocks(pool, account)).filter((l) => l.symbol === s2)).toHaveLength(1);
});
