import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { loadRiskSnapshots } from '../../activities/batch-snapshots';
import { createBatchSync, type MemberSync, type SyncMember } from '../../activities/batch-sync';
import { createDeploymentActivities } from '../../activities/deployments';
import { createOrderActivities, intentHash, type PlaceOrderInput, type PlaceOrderResult, type SyncOrdersResult } from '../../activities/orders';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import type { BrokerPort } from '../../brokers/port';
import { insertApproval } from '../../db/sql/approvals';
import { insertLedgerIntent, markLedgerSubmitting } from '../../db/sql/order-ledger';
import { setHalt } from '../../db/sql/trading-halts';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { clientOrderId } from '../../domain/ids';
import { testPool } from '../helpers/db';
import { testStack } from '../helpers/stack';

/**
 * The batch evaluator's reads (activities/batch-sync.ts, batch-snapshots.ts) against the per-deployment ones they
 * replace (syncOrders, loadRiskSnapshot), on real Postgres and two real paper broker accounts built the same way:
 * fills not yet read, a flat deployment holding a lock, a resting order, a partial fill, a stale ledger row, an order
 * that never reached the broker, an approval, halts, and an order at the broker the ledger does not know.
 */
const SYMBOLS = ['BRA', 'BRB', 'BRC', 'BRD', 'BRE', 'BRF', 'BRG'];
const PRICES: Record<string, number> = { BRA: 10.25, BRB: 20.5, BRC: 30.75, BRD: 12.125, BRE: 15.375, BRF: 40.0625, BRG: 9.5 };

interface World {
  account: string;
  paper: PaperBrokerProcess;
  broker: BrokerPort;
  /** six deployments, the roles below by index; a seventh on a broker this worker does not have */
  members: SyncMember[];
}

let pool: Pool;
const worlds: World[] = [];

async function buildWorld(name: string, accountHalt: boolean): Promise<World> {
  const account = `breads-${name}-${randomUUID().slice(0, 6)}`;
  const paper = await startPaperBroker({ databaseUrl: testStack().DATABASE_URL, account, initialCash: 1e7 });
  const broker = paperBrokerPort(paper.url);
  const admin = new PaperBrokerAdmin(paper.url);
  await admin.setPrices(PRICES);
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: SYMBOLS, timeframe: '1m', accountId: account, broker: 'paper', calendar: '24x7' });
  const ids = Array.from({ length: 7 }, () => randomUUID());
  for (const id of ids) {
    await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'running', 'test')`, [
      id, `deployment-${id}`, account, JSON.stringify(spec),
    ]);
  }
  const orders = createOrderActivities({ db: pool, brokers: { paper: broker } });
  let cycle = 0;
  const intent = (d: number, symbol: string, side: 'buy' | 'sell', qty: number, limitPrice?: number): PlaceOrderInput => ({
    clientOrderId: clientOrderId(`deployment-${ids[d]}`, ++cycle, 0, 1), deploymentId: ids[d]!, workflowId: `deployment-${ids[d]}`, cycle, leg: 0, intentVersion: 1,
    broker: 'paper', accountId: account, symbol, side, qty, orderType: limitPrice ? 'limit' : 'market', timeInForce: 'gtc', ...(limitPrice ? { limitPrice } : {}), symbolLock: { ttlMs: 60_000 },
  });
  const place = async (i: PlaceOrderInput, state: string) => {
    const r = (await new MockActivityEnvironment().run(orders.placeOrder, i)) as PlaceOrderResult;
    expect(r.state).toBe(state);
    return r;
  };
  await place(intent(0, 'BRA', 'buy', 3), 'FILLED'); // 0: a position whose fills nobody read yet
  await place(intent(1, 'BRB', 'buy', 2), 'FILLED'); // 1: flat again, its lock still held
  await place(intent(1, 'BRB', 'sell', 2), 'FILLED');
  await place(intent(2, 'BRC', 'buy', 1, 1), 'ACCEPTED'); // 2: a resting limit order, and an approval in flight
  await insertApproval(pool, {
    id: randomUUID(), deploymentId: ids[2]!, workflowId: `approval-${randomUUID()}`, deploymentWorkflowId: `deployment-${ids[2]}`, cycle: 99, leg: 0, accountId: account, symbol: 'BRD', side: 'buy',
    qty: 1, price: 12, reason: {}, requiredApprovals: 1, requestedBy: 'test', expiresAtMs: Date.now() + 3_600_000, riskContext: { breaker: 'none', equityPeak: 0, dayStartPnl: 0, intentReason: 'signal' },
  });
  const stale = await place(intent(3, 'BRF', 'buy', 1), 'FILLED'); // 3: a filled order the ledger still thinks open, and a partial fill
  await pool.query(`UPDATE order_ledger SET state = 'ACCEPTED', filled_qty = 0 WHERE client_order_id = $1`, [stale.clientOrderId]);
  await admin.configure({ partialFillSlices: 4 });
  await place(intent(3, 'BRE', 'buy', 4), 'PARTIAL');
  await admin.configure({ partialFillSlices: 1 });
  const lost = intent(4, 'BRG', 'buy', 1); // 4: an order that never reached the broker, and a halt of its own
  await insertLedgerIntent(pool, { ...lost, intentHash: intentHash(lost) });
  await markLedgerSubmitting(pool, lost.clientOrderId);
  await setHalt(pool, 'deployment', ids[4]!, true, 'test', 'test');
  if (accountHalt) await setHalt(pool, 'account', account, true, 'test', 'test');
  // 5: nothing at all. And an open order at the broker that no ledger row has: a finding that blocks the account.
  await broker.submitOrder({ clientOrderId: 'stray-order', symbol: 'BRA', side: 'buy', qty: 1, type: 'limit', limitPrice: 1, timeInForce: 'gtc' });
  const members = ids.map((deploymentId, i) => ({ deploymentId, broker: i === 6 ? 'nope' : 'paper', accountId: account }));
  return { account, paper, broker, members };
}

beforeAll(async () => {
  pool = testPool();
  worlds.push(await buildWorld('a', false), await buildWorld('b', true));
}, 120_000);

afterAll(async () => {
  for (const w of worlds) await w.paper.stop();
  await pool?.end();
});

/** A world's ids, client order ids, broker refs and finding numbers replaced by what they are, so two worlds compare. */
function normalize(w: World, x: unknown): unknown {
  let s = JSON.stringify(x);
  w.members.forEach((m, i) => (s = s.replaceAll(m.deploymentId, `d${i}`)));
  s = s.replaceAll(w.account, 'ACCOUNT').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID').replace(/finding \d+/g, 'finding N');
  return JSON.parse(s);
}

/** What a sync leaves in Postgres for a world: ledger rows, fills, locks and findings. */
async function effects(w: World) {
  const ids = w.members.map((m) => m.deploymentId);
  const q = async (sql: string, args: unknown[]) => normalize(w, (await pool.query(sql, args)).rows);
  return {
    ledger: await q('SELECT deployment_id, symbol, side, state, filled_qty FROM order_ledger WHERE account_id = $1 ORDER BY cycle_seq', [w.account]),
    fills: await q('SELECT deployment_id, symbol, side, qty, price FROM fills WHERE deployment_id = ANY($1::uuid[]) ORDER BY symbol, side, qty', [ids]),
    locks: await q('SELECT symbol, holder FROM symbol_locks WHERE account_id = $1 ORDER BY symbol', [w.account]),
    findings: await q('SELECT kind, client_order_id, symbol, found_by FROM broker_discrepancies WHERE account_id = $1 ORDER BY id', [w.account]),
  };
}

const withoutTimes = ({ at: _at, newFills: _n, unknownFills: _u, ...rest }: SyncOrdersResult) => rest;

test('a batch sync of every member does what each deployment syncing itself does', async () => {
  const [a, b] = [worlds[0]!, worlds[1]!];
  // World a: each deployment's own syncOrders, one after the other, as the evaluator read them before.
  const orders = createOrderActivities({ db: pool, brokers: { paper: a.broker } });
  const own: Array<SyncOrdersResult | string> = [];
  for (const m of a.members) own.push(await (new MockActivityEnvironment().run(orders.syncOrders, m) as Promise<SyncOrdersResult>).catch((e: Error) => e.message));
  // World b: all at once.
  const syncMembers = createBatchSync({ db: pool, brokers: { paper: b.broker } });
  const batch = (await new MockActivityEnvironment().run(async () => syncMembers(Context.current(), b.members))) as Map<string, MemberSync>;
  const batched = b.members.map((m) => {
    const s = batch.get(m.deploymentId)!;
    return s.ok ? s.result : s.reason;
  });
  expect(normalize(b, batched.map((r) => (typeof r === 'string' ? r : withoutTimes(r))))).toEqual(normalize(a, own.map((r) => (typeof r === 'string' ? r : withoutTimes(r)))));
  expect(await effects(b)).toEqual(await effects(a));

  // The scenario did what it says (so the comparison above compares something).
  const e = (await effects(b)) as { ledger: Array<{ state: string }>; locks: Array<{ symbol: string; holder: string }>; findings: unknown[] };
  expect(e.ledger.map((r) => r.state)).toEqual(['FILLED', 'FILLED', 'FILLED', 'ACCEPTED', 'FILLED', 'PARTIAL', 'UNKNOWN']);
  expect(e.locks).toEqual([{ symbol: 'BRA', holder: 'd0' }, { symbol: 'BRC', holder: 'd2' }, { symbol: 'BRE', holder: 'd3' }, { symbol: 'BRF', holder: 'd3' }]);
  expect(e.findings).toHaveLength(1);
  expect(batched[6]).toBe('unknown broker "nope": this IO worker has no such broker configured');
  const r3 = batched[3] as SyncOrdersResult;
  expect(r3.open).toBe(2);
  expect(r3.positions).toEqual([{ symbol: 'BRE', qty: 1, cashFlow: -15.375 }, { symbol: 'BRF', qty: 1, cashFlow: -40.0625 }]);
  expect(r3.blockedBy).toHaveLength(1);
  // every member's new fills are its own (a deployment's own sync counts only those of the one that listed the account)
  expect(batched.slice(0, 6).map((r) => (r as SyncOrdersResult).newFills)).toEqual([1, 2, 0, 2, 0, 0]);
}, 60_000);

test('batched risk snapshots equal each deployment own loadRiskSnapshot, across two accounts', async () => {
  const members = worlds.flatMap((w) => w.members.slice(0, 6)).map((m, i) => ({ ...m, prices: i % 2 ? PRICES : { BRA: 11, BRE: 14.5 } }));
  const { loadRiskSnapshot } = createDeploymentActivities({ db: pool });
  const own = await Promise.all(members.map((m) => loadRiskSnapshot(m)));
  const batched = await loadRiskSnapshots(pool, members);
  const strip = ({ at: _at, ...s }: { at?: number }) => s;
  expect(members.map((m) => strip(batched.get(m.deploymentId)!))).toEqual(own.map(strip));

  // What they show: positions and entries, the open orders, the approval, the partial remainder, the halts.
  const [s0, , s2, s3, s4] = own;
  expect(s0!.positions).toEqual({ BRA: 3 });
  expect(s0!.entryPrices).toEqual({ BRA: 10.25 });
  expect(s0!.accountOpenPositions).toBe(3);
  // at its prices (BRA 11, BRE 14.5; BRF, not among them, at its last fill price)
  expect([s0!.totalPnl, s0!.deploymentExposure, s0!.accountExposure]).toEqual([3 * 11 - 3 * 10.25, 33, 33 + 14.5 + 40.0625]);
  expect(s2!.pendingSymbols).toEqual(['BRC']);
  expect(s2!.pendingApprovals).toEqual(['BRD']);
  expect(s3!.pendingSymbols).toEqual(['BRE']);
  expect(s3!.remainders).toEqual([expect.objectContaining({ symbol: 'BRE', qty: 4, filledQty: 1, state: 'PARTIAL' })]);
  expect(s4!.kill).toEqual({ global: false, account: false, deployment: true, eod: false });
  expect(own[6]!.kill).toEqual({ global: false, account: true, deployment: false, eod: false });
  expect(own[10]!.kill).toEqual({ global: false, account: true, deployment: true, eod: false });
});
