import { insertDecision, listDecisions, lockApproval, transitionApproval, type Approval } from '../db/sql/approvals';
import { insertAudit } from '../db/sql/audit';
import { inTransaction } from '../db/sql/queryable';
import type { ApprovalStatus } from '../domain/approvals';
import { approveSignal, rejectSignal } from '../workflows/approval/messages';
import { logOf, type ServiceDeps } from './deps';
import { conflict, forbidden, notFound } from './errors';
import { temporalCall } from './temporal-call';

const SIGNAL_TIMEOUT_MS = 5_000;

export interface Decision {
  approvalId: string;
  decision: 'approve' | 'reject';
  /** the approver (an API key's name) */
  by: string;
  reason?: string;
}

export interface Decided {
  row: Approval;
  /** the request after this decision: pending while more approvers are needed */
  status: ApprovalStatus;
  approvals: number;
  /** false: the workflow was not reachable now; it reads the recorded decision within 30 s, or at expiry */
  signalled: boolean;
}

/**
 * The one way a trade approval is decided: under the request's row lock, refuse the requester (`forbidden`), a
 * request no longer pending or expired and a repeated decision (`conflict`); record the decision, move the request
 * (rejected on the first rejection, approved once enough distinct approvers agreed) and its audit row, commit; only
 * then signal the workflow, which counts nothing it cannot find recorded.
 */
export async function decideApproval(deps: ServiceDeps, d: Decision): Promise<Decided> {
  const { db, temporal } = deps;
  const { approvalId, decision, by, reason } = d;
  const outcome = await inTransaction(db, async (tx) => {
    const row = await lockApproval(tx, approvalId);
    if (!row) throw notFound(`no approval ${approvalId}`);
    if (row.requestedBy === by) throw forbidden(`${by} requested this trade (deployment creator) and may not decide on it`);
    if (row.status !== 'pending') throw conflict(`approval ${row.id} is already ${row.status}`);
    if (row.expiresAt.getTime() <= Date.now()) throw conflict(`approval ${row.id} expired at ${row.expiresAt.toISOString()}`);
    if (!(await insertDecision(tx, { approvalId: row.id, approver: by, decision, reason }))) {
      throw conflict(`${by} already decided on approval ${row.id}`);
    }
    const approvals = (await listDecisions(tx, [row.id])).filter((x) => x.decision === 'approve').length;
    let status: ApprovalStatus = row.status;
    if (decision === 'reject') {
      status = (await transitionApproval(tx, row.id, ['pending'], 'rejected', { decided: true, outcome: `rejected by ${by}${reason ? `: ${reason}` : ''}` }))!.status;
    } else if (approvals >= row.requiredApprovals) {
      status = (await transitionApproval(tx, row.id, ['pending'], 'approved', { decided: true }))!.status;
    }
    await insertAudit(tx, by, `approval.${decision}`, row.id, { reason: reason ?? null, approvals, requiredApprovals: row.requiredApprovals, status });
    return { row, status, approvals };
  });
  // Signalled after the commit: the workflow verifies the decision against what was just recorded.
  let signalled = true;
  try {
    const handle = temporal.workflow.getHandle(outcome.row.workflowId);
    const arg = { approvalId: outcome.row.id, approver: by, ...(reason ? { reason } : {}) };
    await temporalCall(deps, 'signal', SIGNAL_TIMEOUT_MS, () => handle.signal(decision === 'approve' ? approveSignal : rejectSignal, arg));
  } catch (err) {
    signalled = false;
    logOf(deps).warn({ approvalId: outcome.row.id, err: { message: (err as Error).message } }, 'decision recorded, signal not delivered; the workflow reads it from the row');
  }
  logOf(deps).info({ approvalId: outcome.row.id, decision, by, status: outcome.status }, 'approval decision recorded');
  return { ...outcome, signalled };
}
