import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { approvalStateQuery, approveSignal } from '../../workflows/approval/messages';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { uniqueSymbol } from '../helpers/db';
import { historySummaries } from '../helpers/user-metadata';
import { AUTH, type ApiHarness } from './harness';
import { approvalById, auditRows, eventually, ledgerRows, pendingApproval, startRuntimeHarness, type ApprovalView, type RuntimeHarness } from './runtime-harness';

/**
 * Trade approvals end to end: a deployment whose policy asks for approval opens a request (one per symbol at a
 * time) and keeps cycling; the API records decisions and signals the approval workflow, which places the order
 * once it is approved (after re-checking the kill switch and the risk gate), never when rejected. The auth
 * matrix, self-approval, four eyes, repeated and late decisions, and a forged signal.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;

beforeAll(async () => {
  rt = await startRuntimeHarness('appr');
  ({ h, pool } = rt);
}, 60_000);

afterAll(async () => {
  await rt?.close();
});

// an up-cross at bar 5 (buy ~102), then a slow rise: the strategy wants the position for the rest of the path
const RISE = [100, 99.9, 99.8, 99.7, 99.6, 102, ...Array.from({ length: 300 }, (_, i) => 102.1 + i * 0.001)];
// falling, then an oscillation: an up-cross every few bars, each one an entry signal while flat
const WAVE = [100, 99.9, 99.8, 99.7, 99.6, ...Array.from({ length: 300 }, (_, i) => 100 + Math.sin(i / 2))];


const pendingFor = (deploymentId: string) => pendingApproval(h, deploymentId);

const decide = (id: string, decision: 'approve' | 'reject', headers: Record<string, string>, payload: unknown = { reason: 'looks right' }) =>
  h.app.inject({ method: 'POST', url: `/v1/approvals/${id}/${decision}`, headers, payload: payload as Record<string, unknown> });

const approval = (id: string) => approvalById(h, id);

// Each test has its own deployment and symbol and mostly waits on its replayed bars: they run at once.
test.concurrent('always: the cycle asks, keeps cycling without stacking a second request, and the order goes out once an approver approves', async () => {
  const symbol = uniqueSymbol('APV');
  await rt.storePath(symbol, WAVE);
  const d = await rt.createDeployment(symbol, { approvalPolicy: { mode: 'always', maxPriceDriftPct: 0.05 }, riskLimits: { maxExposure: 1e6 } });
  const a = await pendingFor(d.id);
  expect(a).toMatchObject({ deploymentId: d.id, status: 'pending', trade: { symbol, side: 'buy', qty: 1 }, requiredApprovals: 1, approvals: 0, requestedBy: 'tom' });
  expect(a.reason.rule).toBe('policy always');
  expect(a.timeLeftMs).toBeGreaterThan(0);
  expect(a.links.temporalUi).toContain(encodeURIComponent(`approval-${a.id}`));
  // approvers were notified through the outbox, once
  const notes = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications WHERE dedupe_key = $1', [`approval:${a.id}:requested`]);
  expect(notes.rows[0]!.n).toBe(1);

  // The deployment keeps cycling: the next entry signals find the request open and do not stack a second one.
  await eventually(
    'a cycle that found the request open',
    async () => (await pool.query(`SELECT 1 FROM deployment_cycles WHERE deployment_id = $1 AND reason LIKE 'approval-pending%'`, [d.id])).rowCount ?? 0,
    (n) => n > 0,
  );
  const all = await h.app.inject({ method: 'GET', url: `/v1/approvals?deploymentId=${d.id}`, headers: AUTH.viewer });
  expect(all.json<{ approvals: ApprovalView[] }>().approvals).toHaveLength(1);
  expect(await ledgerRows(pool, d.id)).toHaveLength(0);

  // Auth matrix: viewer and trader may not decide (403); a bad id is 400, an unknown one 404.
  expect((await decide(a.id, 'approve', AUTH.viewer)).statusCode).toBe(403);
  expect((await decide(a.id, 'approve', AUTH.trader)).statusCode).toBe(403);
  expect((await decide(a.id, 'reject', AUTH.trader)).statusCode).toBe(403);
  expect((await decide('not-a-uuid', 'approve', AUTH.approver)).statusCode).toBe(400);
  expect((await decide(randomUUID(), 'approve', AUTH.approver)).statusCode).toBe(404);
  expect((await decide(a.id, 'approve', AUTH.approver, { reason: 1 })).statusCode).toBe(400);
  expect((await h.app.inject({ method: 'POST', url: `/v1/approvals/${a.id}/approve`, payload: {} })).statusCode).toBe(401);

  const ok = await decide(a.id, 'approve', AUTH.approver);
  expect(ok.statusCode).toBe(202);
  expect(ok.json()).toMatchObject({ id: a.id, decision: 'approve', status: 'approved', approvals: 1, requiredApprovals: 1, signalled: true });
  // Repeated and late decisions are conflicts.
  expect((await decide(a.id, 'approve', AUTH.approver)).statusCode).toBe(409);
  expect((await decide(a.id, 'reject', AUTH.admin)).statusCode).toBe(409);

  const done = await eventually('executed', () => approval(a.id), (x) => x.status === 'executed' || x.status === 'failed');
  expect(done.status).toBe('executed');
  const orders = await ledgerRows(pool, d.id);
  expect(orders).toHaveLength(1);
  expect(orders[0]).toMatchObject({ client_order_id: done.clientOrderId, side: 'buy' });
  expect(done.decisions).toEqual([expect.objectContaining({ approver: 'alice', decision: 'approve' })]);
  const handle = h.deps.temporal.workflow.getHandle(a.workflowId);
  expect(await handle.result()).toMatchObject({ status: 'executed', clientOrderId: done.clientOrderId });
  // The Temporal UI reads like a log: what is asked on the workflow, what each step did.
  expect(await (await handle.describe()).staticSummary()).toMatch(new RegExp(`^approve BUY 1 ${symbol} @ [\\d,.]+ · deployment ${d.id}$`));
  expect(await historySummaries(handle)).toEqual(
    expect.arrayContaining([
      { event: 'local-activity', summary: 'verify the approval request' },
      { event: 'timer', summary: expect.stringMatching(new RegExp(`^await a decision on BUY 1 ${symbol} @ [\\d,.]+ · expires \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d(:\\d\\d)?Z$`)) },
      { event: 'local-activity', summary: 'check signal 1: approve' },
      { event: 'local-activity', summary: expect.stringMatching(new RegExp(`^re-check BUY 1 ${symbol} @ [\\d,.]+: deployment, price, kill switch, risk$`)) },
      { event: 'activity', summary: expect.stringMatching(new RegExp(`^BUY 1 ${symbol} @ [\\d,.]+ \\(approved\\) · ${done.clientOrderId}$`)) },
      { event: 'local-activity', summary: `executed · order ${done.clientOrderId}` },
    ]),
  );
  // and the deployment's history names the request it put to humans
  const asked = (await historySummaries(h.deps.temporal.workflow.getHandle(d.workflowId))).filter((s) => s.summary.includes('approv'));
  expect(asked).toEqual(
    expect.arrayContaining([
      { event: 'activity', summary: expect.stringMatching(new RegExp(`^cycle \\d+ · ask approval BUY 1 ${symbol} @ [\\d,.]+ \\(policy always\\)$`)) },
      { event: 'child', summary: expect.stringMatching(new RegExp(`^approve BUY 1 ${symbol} @ [\\d,.]+ · deployment ${d.id}$`)) },
    ]),
  );
  // Findable in the Temporal UI by deployment, account and symbol; a child of the deployment's runtime.
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.jobType)).toBe('approval');
  expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.deploymentId)).toBe(d.id);
  expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.symbol)).toBe(symbol);
  expect(desc.parentExecution?.workflowId).toBe(d.workflowId);
  expect((await auditRows(pool, a.id)).map((r) => r.action)).toEqual(['approval.requested', 'approval.approve', 'approval.executed']);
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);

test.concurrent('self-approval is 403, a forged signal only leaves an audit row, and a rejection never trades', async () => {
  const symbol = uniqueSymbol('APF');
  await rt.storePath(symbol, RISE);
  // Created by the admin ada: ada may not decide on its requests.
  const d = await rt.createDeployment(symbol, { approvalPolicy: { mode: 'always' }, riskLimits: { maxExposure: 1e6 } }, AUTH.admin);
  const a = await pendingFor(d.id);
  expect(a.requestedBy).toBe('ada');
  const self = await decide(a.id, 'approve', AUTH.admin);
  expect(self.statusCode).toBe(403);
  expect(self.body).toContain('may not decide');

  // A signal sent straight to the workflow (as `temporal workflow signal` would), with no recorded decision.
  const handle = h.deps.temporal.workflow.getHandle(a.workflowId);
  await handle.signal(approveSignal, { approvalId: a.id, approver: 'mallory', reason: 'trust me' });
  await eventually('forged audit row', () => auditRows(pool, a.id), (r) => r.some((x) => x.action === 'approval.forged' && x.detail.approver === 'mallory'));
  expect(await handle.query(approvalStateQuery)).toMatchObject({ status: 'pending', signals: 1, counted: 0 });

  const reject = await decide(a.id, 'reject', AUTH.approver, { reason: 'not today' });
  expect(reject.statusCode).toBe(202);
  expect(reject.json()).toMatchObject({ status: 'rejected' });
  expect((await decide(a.id, 'approve', AUTH.approver)).statusCode).toBe(409);
  expect(await handle.result()).toMatchObject({ status: 'rejected' });
  expect(await approval(a.id)).toMatchObject({ status: 'rejected', outcome: 'rejected by alice: not today', clientOrderId: null });
  expect(await ledgerRows(pool, d.id)).toHaveLength(0);
  await rt.stop(d.id);
}, 120_000);

test.concurrent('four eyes: one approval leaves it pending, the second distinct approver approves it; the kill switch after approval stops the order', async () => {
  const symbol = uniqueSymbol('AP4');
  await rt.storePath(symbol, RISE);
  const d = await rt.createDeployment(symbol, { approvalPolicy: { mode: 'always', approvals: 2 }, riskLimits: { maxExposure: 1e6 } });
  const a = await pendingFor(d.id);
  expect(a.requiredApprovals).toBe(2);
  const handle = h.deps.temporal.workflow.getHandle(a.workflowId);
  const first = await decide(a.id, 'approve', AUTH.approver);
  expect(first.json()).toMatchObject({ status: 'pending', approvals: 1, requiredApprovals: 2 });
  await eventually('counted', () => handle.query(approvalStateQuery), (s) => s.counted === 1);
  expect(await handle.query(approvalStateQuery)).toMatchObject({ status: 'pending' });

  // The kill switch goes on for the deployment before the second approval: the re-check refuses the order.
  const halt = await h.app.inject({ method: 'POST', url: '/v1/kill-switch', headers: AUTH.admin, payload: { scope: 'deployment', id: d.id, active: true, reason: 'desk review' } });
  expect(halt.statusCode).toBe(200);
  const second = await decide(a.id, 'approve', AUTH.admin);
  expect(second.json()).toMatchObject({ status: 'approved', approvals: 2 });
  expect(await handle.result()).toMatchObject({ status: 'failed' });
  const done = await approval(a.id);
  expect(done.status).toBe('failed');
  expect(done.outcome).toContain('kill-switch:deployment');
  expect(await ledgerRows(pool, d.id)).toHaveLength(0);
  await h.app.inject({ method: 'POST', url: '/v1/kill-switch', headers: AUTH.admin, payload: { scope: 'deployment', id: d.id, active: false, reason: 'done' } });
  await rt.stop(d.id);
}, 120_000);
