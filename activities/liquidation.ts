import { insertAuditOnce } from '../db/sql/audit';
import { liftDueReduceOnly, liftReduceOnly, openReduceOnly } from '../db/sql/eod-reduce-only';
import {
  appendLiquidationStep,
  finishLiquidationRow,
  getLiquidation,
  markLiquidationLifted,
  markLiquidationRunning,
  type LiquidationReport,
  type LiquidationStep,
  type ReplayClock,
} from '../db/sql/liquidations';
import { enqueueNotification } from '../db/sql/notifications';
import { inTransaction, type ConnectionPool } from '../db/sql/queryable';
import { releaseLocksExcept } from '../db/sql/symbol-locks';
import { TRADING_GATE_LOCK } from '../db/sql/trading-halts';
import type { BrokerPort } from '../brokers/port';
import type { CalendarId } from '../domain/calendar/calendar';
import { eodWindow } from '../domain/eod/policy';
import type { LiquidationScope } from '../domain/eod/plan';
import { accountOwnerId } from '../domain/ids';
import { planLiquidations, recordLiquidation } from '../db/liquidation-records';

export type { LiquidationReport, LiquidationStep, ReplayClock };

/** What the liquidation workflow works from: its row, as the platform recorded it. */
export interface LiquidationTask {
  liquidationId: string;
  workflowId: string;
  accountId: string;
  tradingDay: string;
  trigger: 'schedule' | 'manual';
  scope: LiquidationScope;
  /** each broker the account trades on, and whether its close-position call carries our client order id */
  brokers: Array<{ name: string; tagsCloses: boolean }>;
  marginMinutes: number;
  closeAtMs: number;
  reduceOnlyAtMs: number;
  flatByMs: number;
  liftsAtMs: number;
  clock?: ReplayClock;
  /** the owner written on closes of positions no deployment holds */
  accountOwnerId: string;
}

export interface LiquidationDeps {
  db: ConnectionPool;
  brokers: Record<string, BrokerPort>;
}

const short = (s: string) => s.slice(0, 300);

/**
 * The liquidation's bookkeeping: its row (verified before anything is done, so a workflow started by hand with an id
 * nobody recorded does nothing but leave an audit row), the reduce-only windows, the steps, the verdict with its alert,
 * and the lift at the next open. Every write is idempotent (keyed by the liquidation and step), so retries write once.
 */
export function createLiquidationActivities({ db, brokers }: LiquidationDeps) {
  const step = (id: string, s: LiquidationStep) => appendLiquidationStep(db, id, s);
  return {
    async openLiquidation(args: { liquidationId: string; workflowId: string; runId: string }): Promise<{ task: LiquidationTask } | { refused: string }> {
      const l = typeof args.liquidationId === 'string' && /^[0-9a-f-]{36}$/i.test(args.liquidationId) ? await getLiquidation(db, args.liquidationId) : undefined;
      const refused = !l
        ? `no liquidation ${short(String(args.liquidationId))} was recorded`
        : l.workflowId !== args.workflowId
          ? `liquidation ${l.id} belongs to workflow ${l.workflowId}, not ${args.workflowId}`
          : l.status === 'flat' || l.status === 'not_flat'
            ? `liquidation ${l.id} already finished (${l.status})`
            : undefined;
      if (refused || !l) {
        await insertAuditOnce(db, 'temporal', 'liquidation.refused', args.workflowId, `${args.workflowId}:${args.runId}`, { liquidationId: short(String(args.liquidationId)), why: refused });
        return { refused: refused! };
      }
      await markLiquidationRunning(db, l.id);
      return {
        task: {
          liquidationId: l.id, workflowId: l.workflowId, accountId: l.accountId, tradingDay: l.tradingDay, trigger: l.trigger,
          scope: l.scope === 'account' ? { kind: 'account' } : { kind: 'deployments', deploymentIds: l.deploymentIds },
          brokers: l.brokers.map((name) => ({ name, tagsCloses: brokers[name]?.closeWithClientOrderId === true })),
          marginMinutes: l.marginMinutes, closeAtMs: l.closeAtMs, reduceOnlyAtMs: l.reduceOnlyAtMs, flatByMs: l.flatByMs, liftsAtMs: l.liftsAtMs,
          ...(l.clock ? { clock: l.clock } : {}), accountOwnerId: accountOwnerId(l.accountId),
        },
      };
    },

    /**
     * Step 1: the scope becomes reduce-only at once (no new entries anywhere in it; exits and closes still go out),
     * under the trading gate like a kill-switch change, with its audit row.
     */
    async beginReduceOnly(args: { task: LiquidationTask; atMs: number }): Promise<{ opened: number }> {
      const t = args.task;
      const scope = t.scope.kind === 'account' ? { scope: 'account' as const, scopeIds: [t.accountId] } : { scope: 'deployment' as const, scopeIds: t.scope.deploymentIds };
      const opened = await inTransaction(db, async (tx) => {
        const n = await openReduceOnly(tx, { ...scope, tradingDay: t.tradingDay, liquidationId: t.liquidationId, liftsAtMs: t.liftsAtMs, gateLock: TRADING_GATE_LOCK });
        await insertAuditOnce(tx, 'liquidation', 'eod.reduce-only.on', t.accountId, `${t.liquidationId}:on`, { liquidationId: t.liquidationId, ...scope, liftsAt: new Date(t.liftsAtMs).toISOString() });
        return n;
      });
      await step(t.liquidationId, { step: 'reduce-only', at: args.atMs, detail: { ...scope, liftsAt: new Date(t.liftsAtMs).toISOString() } });
      return { opened };
    },

    /** Records a step the workflow took (a close round's outcome). */
    async recordLiquidationStep(args: { liquidationId: string; step: LiquidationStep }): Promise<void> {
      await step(args.liquidationId, args.step);
    },

    /**
     * The verdict: flat or not, with what is left and why. Not flat: a critical alert through the outbox (once). Either
     * way the symbol locks of the scope's holders are released on every symbol the broker shows flat.
     */
    async finishLiquidation(args: { task: LiquidationTask; report: LiquidationReport }): Promise<{ locksReleased: number }> {
      const { task: t, report } = args;
      const locksReleased = await inTransaction(db, async (tx) => {
        await finishLiquidationRow(tx, t.liquidationId, report);
        const ok = report.flat && report.inTime;
        await insertAuditOnce(tx, 'liquidation', ok ? 'liquidation.flat' : 'liquidation.not-flat', t.accountId, `${t.liquidationId}:verdict`, { liquidationId: t.liquidationId, report });
        if (!ok) {
          const left = report.left.map((l) => `${l.symbol} ${l.qty} (${l.why})`).join('; ');
          await enqueueNotification(tx, {
            kind: 'eod.liquidation_not_flat',
            severity: 'critical',
            subject: `Account ${t.accountId} was not flat by ${new Date(report.flatByMs).toISOString()} (end-of-day liquidation of ${t.tradingDay})`,
            body: (report.flat
              ? `The broker showed the scope flat only at ${new Date(report.verifiedAt).toISOString()}, after the flat-by time.`
              : `The broker still shows positions at ${new Date(report.verifiedAt).toISOString()}: ${left}. Close them by hand; the scope stays reduce-only until the next open.`).slice(0, 4000),
            payload: { liquidationId: t.liquidationId, accountId: t.accountId, tradingDay: t.tradingDay, left: report.left },
            dedupeKey: `liquidation:${t.liquidationId}:not-flat`,
          });
        }
        const holders = t.scope.kind === 'account' ? null : t.scope.deploymentIds;
        return releaseLocksExcept(tx, t.accountId, holders, report.left.map((l) => l.symbol));
      });
      await step(t.liquidationId, { step: 'verify', at: report.verifiedAt, detail: { flat: report.flat, inTime: report.inTime, left: report.left, locksReleased } });
      return { locksReleased };
    },

    /** At the next session's open: entries are allowed again. */
    async liftLiquidation(args: { task: LiquidationTask; atMs: number }): Promise<{ lifted: number }> {
      const t = args.task;
      const lifted = await inTransaction(db, async (tx) => {
        const n = await liftReduceOnly(tx, t.liquidationId);
        await markLiquidationLifted(tx, t.liquidationId);
        await insertAuditOnce(tx, 'liquidation', 'eod.reduce-only.off', t.accountId, `${t.liquidationId}:off`, { liquidationId: t.liquidationId });
        return n;
      });
      await step(t.liquidationId, { step: 'lift', at: args.atMs, detail: { lifted } });
      return { lifted };
    },

    /** The scheduler's safety net at each open: lifts every window due by then (a liquidation workflow that is gone). */
    async liftDueReduceOnly(args: { asOfMs: number; replayClock?: boolean }): Promise<{ lifted: number }> {
      return { lifted: await liftDueReduceOnly(db, args.asOfMs, args.replayClock === true) };
    },

    /** The day's liquidations as the configuration says now: account, scope, margin, and when each turns reduce-only. */
    async planEodDay(args: { calendar: CalendarId; date: string }): Promise<Array<{ accountId: string; marginMinutes: number; reduceOnlyAtMs: number }>> {
      const out: Array<{ accountId: string; marginMinutes: number; reduceOnlyAtMs: number }> = [];
      for (const p of await planLiquidations(db, args.calendar)) {
        const w = eodWindow(args.calendar, args.date, p.marginMinutes);
        if (w) out.push({ accountId: p.accountId, marginMinutes: p.marginMinutes, reduceOnlyAtMs: w.reduceOnlyAtMs });
      }
      return out;
    },

    /** Records the scheduled liquidation of one account (or gets the one a manual trigger recorded first). */
    async scheduleLiquidation(args: { calendar: CalendarId; date: string; accountId: string; clock?: ReplayClock }): Promise<{ liquidationId: string; workflowId: string; created: boolean } | null> {
      const p = (await planLiquidations(db, args.calendar)).find((x) => x.accountId === args.accountId);
      const window = p && eodWindow(args.calendar, args.date, p.marginMinutes);
      if (!p || !window) return null;
      const { liquidation, created } = await recordLiquidation(db, {
        accountId: p.accountId, calendar: args.calendar, trigger: 'schedule', requestedBy: 'scheduler', reason: `end of day ${args.date}`,
        scope: p.scope, deploymentIds: p.deploymentIds, brokers: p.brokers, marginMinutes: p.marginMinutes, window, ...(args.clock ? { clock: args.clock } : {}),
      });
      return { liquidationId: liquidation.id, workflowId: liquidation.workflowId, created };
    },
  };
}
export type LiquidationActivities = ReturnType<typeof createLiquidationActivities>;
