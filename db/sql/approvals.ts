import type { ApprovalStatus } from '../../domain/approvals';
import type { BreakerLevel } from '../../domain/risk/gate';
import type { Queryable } from './queryable';

/** A trade approval request as activities and routes see it. */
export interface Approval {
  id: string;
  deploymentId: string;
  /** the approval workflow's id */
  workflowId: string;
  deploymentWorkflowId: string;
  cycle: number;
  leg: number;
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  notional: number;
  reason: Record<string, unknown>;
  requiredApprovals: number;
  status: ApprovalStatus;
  requestedBy: string;
  expiresAt: Date;
  decidedAt: Date | null;
  clientOrderId: string | null;
  outcome: string | null;
  /** the runtime's state when it asked; null only for rows recorded before the column existed */
  riskContext: ApprovalRiskContext | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The runtime's state when it asked, for the re-check after approval (the intent itself is in the columns). */
export interface ApprovalRiskContext {
  breaker: BreakerLevel;
  equityPeak: number;
  dayStartPnl: number;
  /** why the order exists ('signal', 'stop-loss', ...) */
  intentReason: string;
}

/** One approver's recorded decision on a request. */
export interface Decision {
  approvalId: string;
  approver: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  decidedAt: Date;
}

/** approvals as pg returns it. */
interface ApprovalRow {
  id: string;
  deployment_id: string;
  workflow_id: string;
  deployment_workflow_id: string;
  cycle_seq: number;
  leg: number;
  account_id: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  notional: number;
  reason: Record<string, unknown>;
  required_approvals: number;
  status: ApprovalStatus;
  requested_by: string;
  expires_at: Date;
  decided_at: Date | null;
  client_order_id: string | null;
  outcome: string | null;
  /** null only for rows recorded before the column existed */
  risk_context: ApprovalRiskContext | null;
  created_at: Date;
  updated_at: Date;
}

/** approval_decisions as pg returns it. */
interface DecisionRow {
  approval_id: string;
  approver: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  decided_at: Date;
}

type Row<T> = T & Record<string, unknown>;

/** The one place an approvals row's columns become a request's fields. */
function approvalRowToApproval(r: ApprovalRow): Approval {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    workflowId: r.workflow_id,
    deploymentWorkflowId: r.deployment_workflow_id,
    cycle: r.cycle_seq,
    leg: r.leg,
    accountId: r.account_id,
    symbol: r.symbol,
    side: r.side,
    qty: r.qty,
    price: r.price,
    notional: r.notional,
    reason: r.reason,
    requiredApprovals: r.required_approvals,
    status: r.status,
    requestedBy: r.requested_by,
    expiresAt: r.expires_at,
    decidedAt: r.decided_at,
    clientOrderId: r.client_order_id,
    outcome: r.outcome,
    riskContext: r.risk_context,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The one place an approval_decisions row's columns become a decision's fields. */
function decisionRowToDecision(r: DecisionRow): Decision {
  return { approvalId: r.approval_id, approver: r.approver, decision: r.decision, reason: r.reason, decidedAt: r.decided_at };
}

export interface NewApproval {
  id: string;
  deploymentId: string;
  workflowId: string;
  deploymentWorkflowId: string;
  cycle: number;
  leg: number;
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  qty: number;
  price: number;
  reason: Record<string, unknown>;
  requiredApprovals: number;
  requestedBy: string;
  expiresAtMs: number;
  riskContext: ApprovalRiskContext;
}

/** Inserts a request; undefined when the id exists already or another request for the symbol is open. */
export async function insertApproval(db: Queryable, a: NewApproval): Promise<Approval | undefined> {
  const { rows } = await db.query<Row<ApprovalRow>>(
    `INSERT INTO approvals (id, deployment_id, workflow_id, deployment_workflow_id, cycle_seq, leg, account_id, symbol, side, qty, price, notional, reason, required_approvals, status, requested_by, expires_at, risk_context)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'pending', $15, to_timestamp($16::float8 / 1000.0), $17)
     ON CONFLICT DO NOTHING RETURNING *`,
    [a.id, a.deploymentId, a.workflowId, a.deploymentWorkflowId, a.cycle, a.leg, a.accountId, a.symbol, a.side, a.qty, a.price, Math.abs(a.qty * a.price), JSON.stringify(a.reason), a.requiredApprovals, a.requestedBy, a.expiresAtMs, JSON.stringify(a.riskContext)],
  );
  return rows[0] && approvalRowToApproval(rows[0]);
}

export async function getApproval(db: Queryable, id: string): Promise<Approval | undefined> {
  const { rows } = await db.query<Row<ApprovalRow>>('SELECT * FROM approvals WHERE id = $1', [id]);
  return rows[0] && approvalRowToApproval(rows[0]);
}

/** The row, locked until the end of the transaction (decisions on one request are serialized by it). */
export async function lockApproval(db: Queryable, id: string): Promise<Approval | undefined> {
  const { rows } = await db.query<Row<ApprovalRow>>('SELECT * FROM approvals WHERE id = $1 FOR UPDATE', [id]);
  return rows[0] && approvalRowToApproval(rows[0]);
}

/** Symbols of a deployment with a request in flight (pending, or approved and not yet placed). */
export async function openApprovalSymbols(db: Queryable, deploymentId: string): Promise<string[]> {
  const { rows } = await db.query<{ symbol: string }>(`SELECT symbol FROM approvals WHERE deployment_id = $1 AND status IN ('pending', 'approved')`, [deploymentId]);
  return rows.map((r) => r.symbol);
}

export async function listApprovals(db: Queryable, f: { status?: ApprovalStatus; deploymentId?: string }, limit: number, offset: number): Promise<Approval[]> {
  const { rows } = await db.query<Row<ApprovalRow>>(
    `SELECT * FROM approvals WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR deployment_id = $2)
     ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`,
    [f.status ?? null, f.deploymentId ?? null, limit, offset],
  );
  return rows.map(approvalRowToApproval);
}

export async function listDecisions(db: Queryable, approvalIds: string[]): Promise<Decision[]> {
  if (approvalIds.length === 0) return [];
  const { rows } = await db.query<Row<DecisionRow>>('SELECT * FROM approval_decisions WHERE approval_id = ANY($1::uuid[]) ORDER BY decided_at, approver', [approvalIds]);
  return rows.map(decisionRowToDecision);
}

/** Records one approver's decision; false when this approver already decided on this request. */
export async function insertDecision(db: Queryable, d: { approvalId: string; approver: string; decision: 'approve' | 'reject'; reason?: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    'INSERT INTO approval_decisions (approval_id, approver, decision, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [d.approvalId, d.approver, d.decision, d.reason ?? null],
  );
  return rowCount === 1;
}

/** The recorded decision of one approver on one request (what a signal must match to count). */
export async function getDecision(db: Queryable, approvalId: string, approver: string): Promise<Decision | undefined> {
  const { rows } = await db.query<Row<DecisionRow>>('SELECT * FROM approval_decisions WHERE approval_id = $1 AND approver = $2', [approvalId, approver]);
  return rows[0] && decisionRowToDecision(rows[0]);
}

/** Moves a request from one status to the next; the row when it was in `from`, else undefined. */
export async function transitionApproval(
  db: Queryable,
  id: string,
  from: readonly ApprovalStatus[],
  to: ApprovalStatus,
  extra: { outcome?: string; clientOrderId?: string; decided?: boolean } = {},
): Promise<Approval | undefined> {
  const { rows } = await db.query<Row<ApprovalRow>>(
    `UPDATE approvals SET status = $3, outcome = coalesce($4, outcome), client_order_id = coalesce($5, client_order_id),
            decided_at = CASE WHEN $6 THEN now() ELSE decided_at END, updated_at = now()
     WHERE id = $1 AND status = ANY($2::text[]) RETURNING *`,
    [id, from, to, extra.outcome ?? null, extra.clientOrderId ?? null, extra.decided ?? false],
  );
  return rows[0] && approvalRowToApproval(rows[0]);
}

/**
 * Expires a pending request whose time is up at `asOfMs` (the approval workflow's clock, so time-skipping tests
 * expire it too); a decision committed first wins, and then nothing changes.
 */
export async function expireApproval(db: Queryable, id: string, asOfMs: number): Promise<Approval | undefined> {
  const { rows } = await db.query<Row<ApprovalRow>>(
    `UPDATE approvals SET status = 'expired', outcome = 'nobody decided before it expired', updated_at = now()
     WHERE id = $1 AND status = 'pending' AND expires_at <= to_timestamp($2::float8 / 1000.0) RETURNING *`,
    [id, asOfMs],
  );
  return rows[0] && approvalRowToApproval(rows[0]);
}
