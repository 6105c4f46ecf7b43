import type { Pool } from 'pg';
import { paperBrokerPort } from '../../brokers';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { clientOrderId } from '../../domain/ids';
import { uniqueSymbol } from '../helpers/db';
import { AUTH } from './harness';
import { eventually, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * The remainder of a partial fill, end to end on the Temporal dev server through the API, a real IO worker, Postgres
 * and the paper broker filling each order in slices (one per price update): each policy sends the rest as the
 * original leg's next intent version, with a client order id derived from the original's, and nothing twice.
 */
let rt: RuntimeHarness;
let pool: Pool;
let admin: PaperBrokerAdmin;

beforeAll(async () => {
  rt = await startRuntimeHarness('partial');
  pool = rt.pool;
  admin = new PaperBrokerAdmin(rt.paper.url);
}, 60_000);

afterAll(async () => {
  await admin?.configure({ partialFillSlices: 1 }).catch(() => undefined);
  await rt?.close();
});

interface LedgerRow {
  client_order_id: string;
  workflow_id: string;
  cycle_seq: number;
  leg: number;
  intent_version: number;
  side: string;
  qty: number;
  filled_qty: number;
  state: string;
}
async function ledger(deploymentId: string): Promise<LedgerRow[]> {
  const { rows } = await pool.query<LedgerRow>(
    'SELECT client_order_id, workflow_id, cycle_seq, leg, intent_version, side, qty, filled_qty, state FROM order_ledger WHERE deployment_id = $1 ORDER BY cycle_seq, leg, intent_version',
    [deploymentId],
  );
  return rows;
}

/** An up-cross at bar 5 (buy 10), then a slow rise with no down-cross. */
const RISE = [100, 99.9, 99.8, 99.7, 99.6, 102, ...Array.from({ length: 200 }, (_, i) => 102.5 + i * 0.05)];

const storedQty = async (deploymentId: string) =>
  (await pool.query<{ qty: number }>(`SELECT coalesce(sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END), 0)::float8 AS qty FROM fills WHERE deployment_id = $1`, [deploymentId])).rows[0]!.qty;

/** The entry's chain of versions: one ledger row per version, each derived from the original, one broker order each, 10 filled in all. */
async function expectOneChain(deploymentId: string, rows: LedgerRow[]) {
  const entry = rows.filter((r) => r.side === 'buy');
  const first = entry[0]!;
  expect(entry.every((r) => r.cycle_seq === first.cycle_seq && r.leg === first.leg)).toBe(true);
  expect(entry.map((r) => r.intent_version)).toEqual(entry.map((_, i) => i + 1));
  for (const r of entry) expect(r.client_order_id).toBe(clientOrderId(r.workflow_id, r.cycle_seq, r.leg, r.intent_version));
  expect(entry.reduce((a, r) => a + r.filled_qty, 0)).toBe(10);
  for (const [i, r] of entry.entries()) if (i > 0) expect(r.qty).toBe(entry[i - 1]!.qty - entry[i - 1]!.filled_qty);
  // the broker has exactly these orders, each once, with the ledger's fills; the position is the 10 wanted
  const broker = paperBrokerPort(rt.paper.url);
  for (const r of rows) expect((await broker.getOrderByClientId(r.client_order_id))?.filledQty).toBe(r.filled_qty);
  const ids = new Set(rows.map((r) => r.client_order_id));
  const all = await broker.listOrders({ status: 'all', limit: 500 });
  expect(all.filter((o) => ids.has(o.clientOrderId))).toHaveLength(rows.length);
  expect(await storedQty(deploymentId)).toBe(10);
}

/** The deployment as GET /v1/deployments/:id shows it: its cycles name the remainder and both orders. */
async function detailCycles(id: string) {
  const res = await rt.h.app.inject({ method: 'GET', url: `/v1/deployments/${id}`, headers: AUTH.viewer });
  expect(res.statusCode).toBe(200);
  return res.json<{ spec: { partialFills: string }; cycles: Array<{ reason: string | null; clientOrderIds: string[]; action: string }> }>();
}

test('cancel-and-replace: a partial fill still working at the next cycle is cancelled and the rest re-sent, until 10 are filled, nothing twice', async () => {
  await admin.configure({ partialFillSlices: 3 });
  const symbol = uniqueSymbol('CNR');
  await rt.storePath(symbol, RISE);
  const d = await rt.createDeployment(symbol, { quantity: 10, partialFills: 'cancel-and-replace' });
  const rows = await eventually(
    'the entry filled through its remainders',
    () => ledger(d.id),
    (r) => r.filter((x) => x.side === 'buy').reduce((a, x) => a + x.filled_qty, 0) >= 10 && r.every((x) => x.state === 'FILLED' || x.state === 'CANCELED'),
    90_000,
  );
  // A sync records the broker's order before it stores the order's fills (batch evaluation syncs at every close,
  // besides the deployment's own sync after its orders): wait for the fills the ledger counts.
  await eventually('the fills stored', () => storedQty(d.id), (q) => q >= 10, 30_000);
  expect(await rt.stop(d.id)).toBe(202);
  expect(rows.filter((r) => r.side === 'buy').length).toBeGreaterThanOrEqual(2);
  expect(rows.slice(0, -1).every((r) => r.state === 'CANCELED' && r.filled_qty > 0)).toBe(true);
  expect(rows[rows.length - 1]!.state).toBe('FILLED');
  await expectOneChain(d.id, rows);
  const detail = await detailCycles(d.id);
  expect(detail.spec.partialFills).toBe('cancel-and-replace');
  const replaced = detail.cycles.filter((c) => c.reason?.startsWith('partial fill: cancel-and-replace'));
  expect(replaced.length).toBe(rows.length - 1);
  for (const c of replaced) {
    expect(c.action).toBe('order');
    expect(c.clientOrderIds).toHaveLength(2);
    const [from, to] = c.clientOrderIds.map((id) => rows.find((r) => r.client_order_id === id)!);
    expect(to!.intent_version).toBe(from!.intent_version + 1);
  }
}, 120_000);

test('top-up: a partial fill keeps working; when the broker ends it with a remainder the rest is sent once', async () => {
  await admin.configure({ partialFillSlices: 50 });
  const symbol = uniqueSymbol('TOP');
  await rt.storePath(symbol, RISE);
  const d = await rt.createDeployment(symbol, { quantity: 10, partialFills: 'top-up' });
  // the entry works slice by slice; the runtime waits for it instead of cancelling
  await eventually('the entry partially filled and waited for', async () => (await detailCycles(d.id)).cycles, (c) => c.some((x) => x.reason?.startsWith('partial fill: top-up') && x.reason.includes('still working')));
  const working = await ledger(d.id);
  expect(working).toHaveLength(1);
  expect(working[0]!.state).toBe('PARTIAL');
  // the broker ends the day: the order expires with its remainder, which top-up sends as version 2
  await admin.configure({ partialFillSlices: 1 });
  expect((await admin.endOfDay()).expired).toBeGreaterThanOrEqual(1);
  const rows = await eventually('the remainder topped up', () => ledger(d.id), (r) => r.some((x) => x.intent_version === 2 && x.state === 'FILLED'), 60_000);
  expect(await rt.stop(d.id)).toBe(202);
  expect(rows).toHaveLength(2);
  expect(rows[0]).toMatchObject({ intent_version: 1, state: 'CANCELED' });
  await expectOneChain(d.id, rows);
  const topped = (await detailCycles(d.id)).cycles.filter((c) => c.action === 'order' && c.reason?.startsWith('partial fill: top-up'));
  expect(topped).toHaveLength(1);
  expect(topped[0]!.clientOrderIds).toEqual([rows[0]!.client_order_id, rows[1]!.client_order_id]);
}, 120_000);
