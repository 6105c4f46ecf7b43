import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import { getApproval } from '../db/sql/approvals';
import { getDeployment, getDeploymentParams, recordDeploymentRun, type DeploymentRowStatus } from '../db/sql/deployments';
import { insertAuditOnce } from '../db/sql/audit';
import { claimWorkflowStart } from '../db/sql/workflow-starts';
import type { DeploymentSpec, ReplayClockSpec } from '../domain/deployment/spec';
import type { ApprovalRequest } from '../workflows/approval/messages';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID } from '../workflows/notifications/messages';

/**
 * Every workflow a user could start by hand (the `temporal` CLI, a plain client) checks at its start that the API
 * recorded it, here: the row it stands for exists, names this workflow id, is in a startable state, and its run chain
 * claims it (db/sql/workflow-starts.ts). The workflow then works from the row, never from its input. Anything else
 * is refused: one audit row `<kind>.start.forged` (keyed by the run, so a retry writes it once) and nothing more.
 */

/** The run chain asking (workflow info: continue-as-new keeps the first run's id), and its input for the audit row. */
export interface StartClaim {
  firstRunId: string;
  /** this run continued an earlier one of the chain (its input was written by our own workflow code) */
  continued: boolean;
  /** the input as JSON, cut short */
  sample: string;
}

export type StartCheck<T> = { ok: true; record: T } | { ok: false; reason: string };

/** What a deployment's runtime runs on: its record, as the API (and the runtime since) wrote it. */
export interface DeploymentRecord {
  deploymentId: string;
  spec: DeploymentSpec;
  params: Record<string, number | boolean>;
  paramsVersion: number;
  clock?: ReplayClockSpec;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A fresh run chain needs the status the API records; a continued one any status its runtime could continue in. */
const LIVE: readonly DeploymentRowStatus[] = ['running', 'paused', 'blocked'];

/** What every start check shares: the run asking, its one audit row when refused, and the claim of its workflow id. */
export function startGuard(db: Pool) {
  const execution = () => Context.current().info.workflowExecution!;

  /** Writes the one audit row of a refused start (keyed by the run: a retry writes it once) and answers the refusal. */
  async function refuse(kind: string, subject: string, reason: string, claim: Pick<StartClaim, 'sample'>): Promise<{ ok: false; reason: string }> {
    const { workflowId, runId } = execution();
    await insertAuditOnce(db, 'runtime', `${kind}.start.forged`, subject.slice(0, 100) || workflowId, runId, { workflowId, runId, reason, input: claim.sample });
    return { ok: false, reason: `not started by the API: ${reason}` };
  }

  /** Claims the workflow id for this run chain: false when another chain holds it. */
  async function claimed(kind: string, subject: string, claim: StartClaim): Promise<boolean> {
    const holder = await claimWorkflowStart(db, { workflowId: execution().workflowId, firstRunId: claim.firstRunId, kind, subject });
    return holder === claim.firstRunId;
  }

  return { execution, refuse, claimed };
}

export function createStartCheckActivities({ db }: { db: Pool }) {
  const { execution, refuse, claimed } = startGuard(db);

  return {
    /** deploymentWorkflow, at the start of every run: the deployment's record (spec, current params, replay clock). */
    async verifyDeploymentStart(args: StartClaim & { deploymentId: string }): Promise<StartCheck<DeploymentRecord>> {
      const kind = 'deployment';
      const id = args.deploymentId;
      const d = UUID.test(id) ? await getDeployment(db, id) : undefined;
      if (!d) return refuse(kind, id, `no deployment ${id.slice(0, 100)} was recorded`, args);
      if (d.workflow_id !== execution().workflowId) return refuse(kind, id, `deployment ${id} runs as workflow ${d.workflow_id}`, args);
      const startable = args.continued ? LIVE.includes(d.status) : d.status === 'running';
      if (!startable) return refuse(kind, id, `deployment ${id} is ${d.status}`, args);
      const params = await getDeploymentParams(db, d.id, d.params_version);
      if (!params) return refuse(kind, id, `deployment ${id} has no params v${d.params_version}`, args);
      if (!(await claimed(kind, d.id, args))) return refuse(kind, id, `deployment ${id} was started by another run`, args);
      await recordDeploymentRun(db, d.id, execution().runId);
      return { ok: true, record: { deploymentId: d.id, spec: d.spec, params, paramsVersion: d.params_version, ...(d.replay_clock ? { clock: d.replay_clock } : {}) } };
    },

    /**
     * tradeApprovalWorkflow: the request as the deployment's runtime recorded it (its intent, its status), with its
     * deployment's limits; no other run chain may have claimed it.
     */
    async verifyApprovalStart(args: StartClaim & { approvalId: string }): Promise<StartCheck<ApprovalRequest>> {
      const kind = 'approval';
      const id = args.approvalId;
      const a = UUID.test(id) ? await getApproval(db, id) : undefined;
      if (!a) return refuse(kind, id, `no approval ${id.slice(0, 100)} was recorded`, args);
      if (a.workflowId !== execution().workflowId) return refuse(kind, id, `approval ${id} runs as workflow ${a.workflowId}`, args);
      // Any status: a request decided (or expired) before its workflow's first task is carried out, or ended, as recorded.
      const d = await getDeployment(db, a.deploymentId);
      const context = a.riskContext;
      const policy = d?.spec.approvalPolicy;
      if (!d || !context || !policy || policy.mode === 'none') return refuse(kind, id, `approval ${id} has no deployment, policy or risk context recorded`, args);
      if (!(await claimed(kind, a.id, args))) return refuse(kind, id, `approval ${id} was started by another run`, args);
      const { spec } = d;
      return {
        ok: true,
        record: {
          approvalId: a.id, status: a.status, deploymentId: a.deploymentId, deploymentWorkflowId: a.deploymentWorkflowId, cycle: a.cycle, leg: a.leg,
          broker: spec.broker, accountId: a.accountId, timeframe: spec.timeframe,
          intent: { symbol: a.symbol, side: a.side, qty: a.qty, price: a.price, reason: context.intentReason },
          riskLimits: spec.riskLimits, breaker: context.breaker, equityPeak: context.equityPeak, dayStartPnl: context.dayStartPnl,
          expiresAtMs: a.expiresAt.getTime(), maxPriceDriftPct: policy.maxPriceDriftPct,
          ...(d.replay_clock ? { clock: d.replay_clock } : {}),
        },
      };
    },

    /**
     * notificationDispatchWorkflow, at the start of every run: one dispatcher drains the outbox, under its one id. It
     * only sends what callers recorded there, so another one would be harmless but for its load: it is refused.
     */
    async verifyNotificationDispatcherStart(args: Pick<StartClaim, 'sample'>): Promise<StartCheck<null>> {
      const { workflowId } = execution();
      if (workflowId !== NOTIFICATION_DISPATCHER_WORKFLOW_ID) {
        return refuse('notification-dispatcher', workflowId, `the outbox has one dispatcher, ${NOTIFICATION_DISPATCHER_WORKFLOW_ID}; this one runs as ${workflowId}`, args);
      }
      return { ok: true, record: null };
    },
  };
}
export type StartCheckActivities = ReturnType<typeof createStartCheckActivities>;
