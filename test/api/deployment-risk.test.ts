import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { PaperBrokerAdmin } from '../../brokers/paper/admin-client';
import { paperBrokerPort } from '../../brokers';
import { deploymentCommandSignal } from '../../workflows/deployment/messages';
import { uniqueSymbol } from '../helpers/db';
import { AUTH, type ApiHarness } from './harness';
import { auditRows, eventually, LEAD_BARS, ledgerRows, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * The risk controls a cycle applies beyond the gate's limits, end to end through the API, a real IO worker,
 * Postgres and the paper broker, on 1-minute bars replayed at 60x: the stop-loss and the cooldown after it,
 * the drawdown breaker latched until an audited reset (a hand-sent reset changes nothing), and reconciliation
 * blocking an account on a broker order the ledger does not know, until an admin resolves it.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;

beforeAll(async () => {
  rt = await startRuntimeHarness('risk');
  ({ h, pool } = rt);
}, 60_000);

afterAll(async () => {
  await rt?.close();
});

const storePath = (symbol: string, path: number[]) => rt.storePath(symbol, path);
const createDeployment = (symbol: string, over: Record<string, unknown>) => rt.createDeployment(symbol, over);
const state = (workflowId: string) => rt.state(workflowId);
const stop = async (id: string) => ({ statusCode: await rt.stop(id) });
const ledger = (deploymentId: string) => ledgerRows(pool, deploymentId);
const audits = (subject: string) => auditRows(pool, subject);

interface CycleRow {
  cycle_seq: number;
  action: string;
  reason: string | null;
  client_order_ids: string[];
  risk: { reasons: Array<{ rule: string }> } | null;
}
async function cycles(deploymentId: string): Promise<CycleRow[]> {
  const { rows } = await pool.query<CycleRow>('SELECT cycle_seq, action, reason, client_order_ids, risk FROM deployment_cycles WHERE deployment_id = $1 ORDER BY cycle_seq', [deploymentId]);
  return rows;
}

// Each of these two has its own deployment and symbol and mostly waits on its replayed bars: they run at once. The
// reconciliation test after them blocks the whole account, so it runs alone, once both are done.
test.concurrent('stop-loss: a bar closing 3 % below the entry closes the position, and the cooldown then blocks new entries', async () => {
  const symbol = uniqueSymbol('SL');
  // up-cross at bar 5 (buy ~102), bar 8 closes at 98 (stop at 102 x 0.97 = 98.94), falls, then an up-cross at bar 13 and a rally
  await storePath(symbol, [100, 99.9, 99.8, 99.7, 99.6, 102, 103, 104, 98, 97, 96, 95, 94, 100, 103, 106, 109, 112, 115, 118, 121, 124]);
  const d = await createDeployment(symbol, { stopLossPct: 0.03, riskLimits: { maxExposure: 1e6, cooldownBarsAfterStopLoss: 1000 } });

  const rows = await eventually('cycles through the rally', () => cycles(d.id), (r) => r.length >= LEAD_BARS + 18, 90_000);
  expect((await stop(d.id)).statusCode).toBe(202);

  const stopLoss = rows.filter((r) => r.reason === 'stop-loss');
  expect({ stopLoss, rows: stopLoss.length === 1 ? [] : rows }).toMatchObject({ stopLoss: [expect.anything()], rows: [] });
  expect(stopLoss[0]!.action).toBe('order');
  const after = rows.filter((r) => r.cycle_seq > stopLoss[0]!.cycle_seq);
  const cooled = after.filter((r) => r.risk?.reasons.some((x) => x.rule === 'cooldown'));
  expect(cooled.length).toBeGreaterThan(0);
  expect(cooled.every((r) => r.action === 'rejected' && r.client_order_ids.length === 0)).toBe(true);
  // Exactly the entry and the stop-loss exit went out; nothing after the stop-loss.
  const orders = await ledger(d.id);
  expect(orders.map((o) => o.side)).toEqual(['buy', 'sell']);
  expect(orders[1]!.cycle_seq).toBe(stopLoss[0]!.cycle_seq);
}, 120_000);

test.concurrent('drawdown breaker: latched soft after a loss, a hand-sent reset is only audited, an admin reset through the API re-opens trading', async () => {
  const symbol = uniqueSymbol('BRK');
  // buy ~102 at bar 5, a down-cross sells at ~99 (loss 3 on equity 1000: 0.3 % > 0.1 %), then an oscillation with up-crosses every few bars
  const wave = Array.from({ length: 200 }, (_, i) => 100 + 3 * Math.sin(i / 2));
  await storePath(symbol, [100, 99.9, 99.8, 99.7, 99.6, 102, 103, 101, 99, 98, ...wave]);
  const d = await createDeployment(symbol, { riskLimits: { maxExposure: 1000, drawdownSoftPct: 0.001, drawdownHardPct: 0.5, dailyLossLimit: 1e6 } });

  await eventually('soft breaker', () => state(d.workflowId), (s) => s.breaker === 'soft');
  await eventually('an entry refused by the breaker', () => cycles(d.id), (r) => r.some((c) => c.risk?.reasons.some((x) => x.rule === 'drawdown-soft') && c.action === 'rejected'));

  // A command sent straight to the workflow (as with `temporal workflow signal`) whose id nobody recorded.
  const forgedId = randomUUID();
  await h.deps.temporal.workflow.getHandle(d.workflowId).signal(deploymentCommandSignal, { commandId: forgedId });
  await eventually('forged audit row', () => audits(d.id), (a) => a.some((x) => x.action === 'deployment.command.forged' && x.detail.commandId === forgedId));
  expect((await state(d.workflowId)).breaker).toBe('soft');

  // Wrong roles and bad bodies change nothing.
  const url = `/v1/deployments/${d.id}/breaker-reset`;
  expect((await h.app.inject({ method: 'POST', url, headers: AUTH.trader, payload: { reason: 'x' } })).statusCode).toBe(403);
  expect((await h.app.inject({ method: 'POST', url, headers: AUTH.approver, payload: { reason: 'x' } })).statusCode).toBe(403);
  const bad = await h.app.inject({ method: 'POST', url, headers: AUTH.admin, payload: {} });
  expect(bad.statusCode).toBe(400);
  expect(bad.body).toContain('reason');
  expect((await h.app.inject({ method: 'POST', url: `/v1/deployments/${randomUUID()}/breaker-reset`, headers: AUTH.admin, payload: { reason: 'x' } })).statusCode).toBe(404);

  const resetAt = new Date();
  const res = await h.app.inject({ method: 'POST', url, headers: AUTH.admin, payload: { reason: 'loss reviewed with the desk' } });
  expect(res.statusCode).toBe(202);
  const { commandId, applied: appliedNow } = res.json<{ commandId: string; applied: boolean }>();
  expect(appliedNow).toBe(true);
  const applied = await eventually('applied audit row', () => audits(d.id), (a) => a.some((x) => x.action === 'deployment.breaker-reset.applied' && x.detail.commandId === commandId));
  const record = applied.find((x) => x.action === 'deployment.breaker-reset.applied')!;
  expect(record.detail).toMatchObject({ by: 'ada', reason: 'loss reviewed with the desk', from: 'soft', to: 'none' });
  expect(record.detail.newPeak).toBeLessThan(record.detail.previousPeak as number);
  // Trading resumes: a buy goes out after the reset.
  await eventually('a buy after the reset', () => ledger(d.id), (o) => o.some((x) => x.side === 'buy' && x.created_at > resetAt));
  expect((await stop(d.id)).statusCode).toBe(202);
}, 150_000);

test('reconciliation: an open broker order the ledger does not know blocks the account and alerts, until an admin resolves it', async () => {
  const symbol = uniqueSymbol('REC');
  await storePath(symbol, Array.from({ length: 300 }, (_, i) => 100 - i * 0.01)); // falling: no entry, the runtime only holds
  const d = await createDeployment(symbol, { riskLimits: { maxExposure: 1e6 } });
  await eventually('first cycles', () => cycles(d.id), (r) => r.length >= 2);

  // Someone places an order at the broker by hand (a resting limit order far from the market). The paper broker
  // only learns prices from cycles that order, so give it the market's price first.
  await new PaperBrokerAdmin(rt.paper.url).setPrices({ [symbol]: 97 });
  const broker = paperBrokerPort(rt.paper.url);
  const manual = await broker.submitOrder({ clientOrderId: `manual-${randomUUID().slice(0, 8)}`, symbol, side: 'buy', qty: 1, type: 'limit', limitPrice: 1, timeInForce: 'gtc' });
  expect(manual.kind).toBe('accepted');
  const brokerOrderId = manual.kind === 'accepted' ? manual.order.id : '';

  const blocked = await eventually('blocked', () => state(d.workflowId), (s) => s.blockedBy.length > 0);
  expect(blocked.blockedBy[0]).toContain(brokerOrderId);
  await eventually('row blocked', async () => (await pool.query<{ status: string }>('SELECT status FROM deployments WHERE id = $1', [d.id])).rows[0]!.status, (s) => s === 'blocked');
  await eventually('a blocked cycle row', () => cycles(d.id), (r) => r.some((c) => c.reason?.startsWith('blocked by reconciliation') === true));

  const list = await h.app.inject({ method: 'GET', url: `/v1/reconciliation/findings?open=true&accountId=${rt.account}`, headers: AUTH.viewer });
  expect(list.statusCode).toBe(200);
  const findings = list.json<{ findings: Array<{ id: string; kind: string; brokerRef: string; foundBy: string }> }>().findings;
  expect(findings).toHaveLength(1);
  expect(findings[0]).toMatchObject({ kind: 'unknown_order', brokerRef: brokerOrderId, foundBy: d.id });

  // The alert went to the notification outbox once, critical, naming the finding.
  const alerts = await pool.query<{ kind: string; severity: string; n: number }>(
    `SELECT kind, severity, count(*)::int AS n FROM notifications WHERE dedupe_key = $1 GROUP BY kind, severity`,
    [`discrepancy:${findings[0]!.id}`],
  );
  expect(alerts.rows).toEqual([{ kind: 'reconciliation.unknown_order', severity: 'critical', n: 1 }]);

  const resolveUrl = `/v1/reconciliation/findings/${findings[0]!.id}/resolve`;
  expect((await h.app.inject({ method: 'POST', url: resolveUrl, headers: AUTH.trader, payload: { resolution: 'x' } })).statusCode).toBe(403);
  expect((await h.app.inject({ method: 'POST', url: resolveUrl, headers: AUTH.admin, payload: {} })).statusCode).toBe(400);
  expect((await h.app.inject({ method: 'POST', url: '/v1/reconciliation/findings/999999999/resolve', headers: AUTH.admin, payload: { resolution: 'x' } })).statusCode).toBe(404);
  await broker.cancelOrder(brokerOrderId);
  const ok = await h.app.inject({ method: 'POST', url: resolveUrl, headers: AUTH.admin, payload: { resolution: 'manual test order, cancelled' } });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toMatchObject({ resolvedBy: 'ada', resolution: 'manual test order, cancelled' });
  expect((await h.app.inject({ method: 'POST', url: resolveUrl, headers: AUTH.admin, payload: { resolution: 'again' } })).statusCode).toBe(409);

  await eventually('unblocked', () => state(d.workflowId), (s) => s.blockedBy.length === 0);
  await eventually('row running', async () => (await pool.query<{ status: string }>('SELECT status FROM deployments WHERE id = $1', [d.id])).rows[0]!.status, (s) => s === 'running');
  const trail = (await audits(d.id)).map((a) => a.action);
  expect(trail).toEqual(expect.arrayContaining(['deployment.blocked', 'deployment.running']));
  expect((await ledger(d.id)).length).toBe(0);
  expect((await stop(d.id)).statusCode).toBe(202);
}, 120_000);
