import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createIoActivities } from '../../../activities/io';
import { paperBrokerPort } from '../../../brokers';
import { PaperBrokerAdmin } from '../../../brokers/paper/admin-client';
import { listApprovals } from '../../../db/sql/approvals';
import { recentCycles } from '../../../db/sql/deployment-cycles';
import type { TradingSession } from '../../../domain/calendar';
import { timeframeMs } from '../../../domain/calendar';
import type { DeploymentSpec } from '../../../domain/deployment/spec';
import { ensureSearchAttributes } from '../../../platform/temporal';
import { decideApproval } from '../../../services/approvals';
import { issueDeploymentCommand } from '../../../services/deployment-commands';
import { createDeployment } from '../../../services/deployments';
import { TASK_QUEUES } from '../../../workflows/task-queues';
import { ensureEodScheduler } from '../../../services/liquidations';
import type { ApprovalRule } from './approval-rule';
import type { RehearsalInfra } from './infra';

/** The scheduler writes the daily summaries this long after the close (its default); the day ends a minute later. */
const SUMMARY_DELAY_MS = 2 * 60_000;
const WHO = 'rehearse';
const DECIDER = 'rehearsal rule';
const PROGRESS_MS = 250;
const LOOK_TIMEOUT_MS = 5_000;

export interface RehearsalProgress {
  /** data time reached, and what happened so far */
  update(dataMs: number, counts: { cycles: number; approvals: number }): void;
}

export interface RehearsedDay {
  deploymentId: string;
  /** decisions the rule took, in order */
  decisions: Array<{ approvalId: string; decision: 'approve' | 'reject'; why: string }>;
  cycles: number;
  /** server round trips that skipped time */
  steps: number;
  /** wall time from the deployment's start to its stop: the session itself, without the set-up */
  sessionSeconds: number;
}

/**
 * One session in Temporal's time-skipping environment: an IO worker with the production activities and workflow
 * bundle, the deployment created as the API creates one (replaying the session on a clock from just before the open),
 * and the end-of-day scheduler on the same clock, which liquidates at the close minus the margin and writes the daily
 * summaries. Time skips one bar at a time (less when approvals wait, so none expires between two looks); after each
 * step the rule decides the pending approvals through the same service the API's approvers use.
 */
export async function rehearseSession(
  infra: RehearsalInfra,
  plan: { spec: DeploymentSpec; session: TradingSession; date: string; rule: ApprovalRule },
  progress: RehearsalProgress,
): Promise<RehearsedDay> {
  // The SDK's own logs (its core's too) would mix with the printed day: only errors, through the runtime's logger.
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: infra.timeSkippingServer } } });
  try {
    const { db, paper } = infra;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUES.io,
      workflowBundle: { codePath: infra.ioBundle },
      activities: createIoActivities({ db, redis: infra.redis, brokers: { paper: paperBrokerPort(paper.url) }, paperPrices: new PaperBrokerAdmin(paper.url) }),
    });
    return await worker.runUntil(async () => {
      await ensureSearchAttributes(env.connection, 'default');
      const { spec, session, date, rule } = plan;
      const deps = { db, temporal: env.client };
      const began = Date.now();
      const wallStartMs = await env.currentTimeMs();
      const dataStartMs = session.open - 60_000;
      const clock = { dataStartMs, wallStartMs, speed: 1 };
      const created = await createDeployment(deps, { spec, by: WHO, name: `rehearsal of ${date}`, replay: { from: new Date(dataStartMs).toISOString(), speed: 1, wallStartMs } });
      await ensureEodScheduler({ temporal: env.client }, { clock, sessions: 1, searchAttributes: false }, `eod-scheduler-rehearsal-${date}`);
      // Without approvals the day is one skip; with them, steps short enough that no request expires between two looks.
      const policy = spec.approvalPolicy;
      const endMs = session.close + SUMMARY_DELAY_MS + 60_000;
      const stepMs = policy.mode === 'none' ? endMs - dataStartMs : Math.min(timeframeMs(spec.timeframe), Math.floor(policy.expiresAfterMs / 2));
      const decisions: RehearsedDay['decisions'] = [];
      let cycles = 0;
      let steps = 0;
      // From the rows the runtime writes, not by querying it: queries every 250 ms stalled a 1-minute day after its continue-as-new.
      const look = () =>
        withTimeout(LOOK_TIMEOUT_MS, async () => {
          const [latest] = await recentCycles(db, created.id, 1);
          if (!latest) return;
          cycles = latest.cycle;
          progress.update(latest.barClose.getTime(), { cycles, approvals: decisions.length });
        });
      const watcher = every(PROGRESS_MS, look);
      try {
        for (let dataMs = dataStartMs; dataMs < endMs; ) {
          const step = Math.min(stepMs, endMs - dataMs);
          await env.sleep(step);
          dataMs += step;
          steps++;
          for (const a of await listApprovals(db, { status: 'pending', deploymentId: created.id }, 100, 0)) {
            const verdict = rule.decide(a.notional);
            await decideApproval(deps, { approvalId: a.id, decision: verdict.decision, by: DECIDER, reason: verdict.why });
            decisions.push({ approvalId: a.id, ...verdict });
          }
        }
      } finally {
        await watcher.stop();
      }
      await look().catch(() => undefined);
      await env.client.workflow.getHandle(`eod-scheduler-rehearsal-${date}`).result();
      await issueDeploymentCommand(deps, { deploymentId: created.id, kind: 'stop', by: WHO, reason: 'the rehearsed session is over' });
      await env.client.workflow.getHandle(created.workflowId).result();
      return { deploymentId: created.id, decisions, cycles, steps, sessionSeconds: Math.round((Date.now() - began) / 100) / 10 };
    });
  } finally {
    await env.teardown();
  }
}

/** Runs `fn` every `ms` (never two at once; a failed look is only skipped) until stopped. */
function every(ms: number, fn: () => Promise<void>): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(fn).catch(() => undefined);
  }, ms);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** `fn`, or a rejection after `ms`. */
function withTimeout(ms: number, fn: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([fn(), late]).finally(() => clearTimeout(timer));
}
