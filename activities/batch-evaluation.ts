import { Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { BrokerPort } from '../brokers/port';
import { insertAuditOnce } from '../db/sql/audit';
import { actionsWithStrategy, insertActions, pendingGroupActions } from '../db/sql/deployment-actions';
import { groupWaitingCommandHolders } from '../db/sql/deployment-commands';
import { insertCycles, type CycleAudit } from '../db/sql/deployment-cycles';
import { groupMembers, writeRiskStates, type GroupMember } from '../db/sql/deployment-risk-states';
import { findEvaluationGroup } from '../db/sql/evaluation-groups';
import { inTransaction } from '../db/sql/queryable';
import type { Bar } from '../domain/bars';
import { timeframeMs } from '../domain/calendar';
import { calendarBarAt } from '../domain/marketdata/calendar-bars';
import { failurePayload, planMember, WINDOW_BARS, type ActionPayload, type EvaluationTiming, type MemberPlan } from '../domain/deployment/batch';
import { actionLine } from '../domain/deployment/order-line';
import { DEFAULT_BAR_WAIT_MS } from '../domain/deployment/bar-wait';
import type { CycleRecord } from '../domain/deployment/evaluate';
import type { DeploymentRiskState } from '../domain/deployment/risk-state';
import { DeploymentSpecSchema, type DeploymentSpec } from '../domain/deployment/spec';
import { awaitFeed } from './cycle';
import { orError, type EvaluatorBarWindows } from './evaluator-bar-windows';
import { alertProcessingLag, type PricesSetter } from './deployments';
import type { LoadRecentBarsInput, LoadRecentBarsResult, MarketDataActivities } from './market-data';
import { readMemberInputs, type MemberInputs } from './batch-snapshots';
import { createBatchSync } from './batch-sync';
import { boundedMap } from './bounded-map';
import type { CrashPoint } from './orders';
import type { TradingMetrics } from './metrics';
import { liveLagMs } from '../domain/deployment/processing-lag';

type Steps = Pick<MarketDataActivities, 'loadRecentBars'> & {
  feedWatermark: (provider: string, timeframe: string) => Promise<number | null>;
};

export interface BatchEvaluationDeps {
  db: Pool;
  steps: Steps;
  /** the windows held from close to close, read instead of steps.loadRecentBars (only new bars; unset: whole reads) */
  barWindows?: Pick<EvaluatorBarWindows, 'readMany'>;
  brokers: Record<string, BrokerPort>;
  crashPoint?: (point: CrashPoint) => void;
  /** symbols' bars read, and broker calls made, at once; the pool needs a connection more for the final write */
  concurrency?: number;
  /** the processing-lag alert's threshold in ms, read at each close (a settings reload changes it); unset: no alert */
  processingLagAlertMs?: () => number;
  /** the built-in paper broker's price feed: set once per close, before any deployment is woken to order */
  paperPrices?: PricesSetter;
  /** the clock the lag is measured with (tests: the time-skipping server's) */
  now?: () => number | Promise<number>;
  /** the process's counters: the cycle rows it stores, as recordCycle's are counted (unset: not counted) */
  metrics?: Pick<TradingMetrics, 'cycleRecorded'>;
}

export interface BarCloseEvaluation {
  /** deployments evaluated at this close */
  evaluated: number;
  /** of them, those whose workflow is woken to act */
  acting: number;
  /** deployments whose inputs could not be read (their rows say why) */
  unreadable: number;
  /** every action of the group still pending (this close's, and any whose wake was lost), to signal; this close's orders with their line */
  wake: Array<{ workflowId: string; actionId: string; runId?: string; line?: string }>;
  /** workflows of deployments with commands recorded and not yet taken (a lost message): told to look for them */
  look: string[];
  ms: number;
}

/** A deployment's positions and total PnL at the close (its cycle rows show them). */
interface Marks {
  positions: Record<string, number>;
  totalPnl: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The batch evaluator's activities (io queue). evaluateBarClose reads each symbol's bars once for the whole group,
 * every member's broker sync and risk snapshot in one statement per kind (not per member), runs the same decision code as a deployment's own workflow
 * (domain/deployment/batch.ts), and stores in one transaction, one statement each: the risk states (only where
 * nobody wrote since they were read), the cycle rows of the symbols with nothing to do, and the actions. A retry
 * after the commit stores nothing again and returns the same actions to wake.
 */
export function createBatchEvaluationActivities({ db, steps, barWindows, brokers, crashPoint, concurrency = 3, processingLagAlertMs, paperPrices, now = Date.now, metrics }: BatchEvaluationDeps) {
  const syncMembers = createBatchSync({ db, brokers, concurrency, ...(crashPoint ? { crashPoint } : {}) });
  /** Each symbol's window (the held windows' tails in one round trip when barWindows is set), or its read's error. */
  const readWindows = (inputs: LoadRecentBarsInput[]): Promise<Array<LoadRecentBarsResult | Error>> =>
    barWindows
      ? barWindows.readMany(inputs, concurrency)
      : boundedMap(inputs, concurrency, (input) => orError(steps.loadRecentBars(input)));
  async function readBars(timing: EvaluationTiming, symbols: string[], barClose: number): Promise<Map<string, Bar[] | string>> {
    const tfMs = timeframeMs(timing.timeframe);
    const feed = timing.dataProvider ? { provider: timing.dataProvider, barClose, waitMs: timing.barWaitMs ?? DEFAULT_BAR_WAIT_MS } : undefined;
    const stale = feed ? await awaitFeed(steps, feed, timing.timeframe) : undefined;
    if (stale !== undefined) return new Map(symbols.map((symbol) => [symbol, stale]));
    const asOfMs = barClose - tfMs;
    const wanted = feed ? calendarBarAt(timing.calendar, asOfMs, timing.timeframe)?.open : undefined;
    const reads = await readWindows(symbols.map((symbol) => ({ symbol, timeframe: timing.timeframe, limit: WINDOW_BARS, asOfMs, maxStaleBars: timing.staleAfterBars, calendar: timing.calendar })));
    return new Map(
      symbols.map((symbol, i): [string, Bar[] | string] => {
        const md = reads[i]!;
        if (md instanceof Error) return [symbol, `market data unavailable: ${md.message}`];
        const newest = md.bars[md.bars.length - 1]?.ts;
        if (wanted !== undefined && (newest === undefined || newest < wanted)) return [symbol, `stale-data: no ${symbol} bar at ${iso(wanted)} from the ${feed!.provider} feed (its newest is ${newest === undefined ? 'none' : iso(newest)})`];
        return [symbol, md.bars];
      }),
    );
  }

  /** One deployment's plan from its inputs; inputs that could not be read (or a plan that failed) skip its symbols with the reason (the next close tries again). */
  function planOne(m: GroupMember, spec: DeploymentSpec, inputs: MemberInputs, ctx: { barClose: number; nowMs: number; tfMs: number; windows: Record<string, Bar[] | string>; prices: Record<string, number> }): { plan: MemberPlan; unreadable: boolean; marks?: Marks } {
    const riskState = m.state as unknown as DeploymentRiskState;
    // A fault retrying cannot fix (a broker this worker has not configured) ends the deployment, as its own cycle's
    // would: its workflow is woken to fail.
    if (!inputs.ok && inputs.configFault) return { plan: { cycle: m.cycle + 1, riskState, quiet: [], payload: failurePayload({ barClose: ctx.barClose, cycle: m.cycle + 1, paramsVersion: m.paramsVersion }, inputs.reason.slice(0, 500)) }, unreadable: true };
    let failure = inputs.ok ? undefined : inputs.reason;
    if (inputs.ok) {
      const { sync, snapshot } = inputs;
      try {
        const plan = planMember({ spec, params: m.params, paramsVersion: m.paramsVersion, rowStatus: m.status, cycle: m.cycle, riskState, barClose: ctx.barClose, nowMs: ctx.nowMs, timeframeMs: ctx.tfMs, snapshot, blockedBy: sync.blockedBy ?? [], windows: ctx.windows, prices: ctx.prices });
        return { plan, unreadable: false, marks: { positions: snapshot.positions, totalPnl: snapshot.totalPnl } };
      } catch (err) {
        failure = (err as Error).message;
      }
    }
    const reason = `inputs unavailable: ${failure}`.slice(0, 500);
    const quiet: CycleRecord[] = spec.symbols.map((symbol) => ({ cycle: m.cycle + 1, barClose: ctx.barClose, symbol, action: 'skip', reason, clientOrderIds: [] }));
    return { plan: { cycle: m.cycle + 1, riskState, quiet }, unreadable: true };
  }

  return {
    /** The group's record, for its evaluator's start: a group nobody recorded under this workflow id is refused, with one audit row. */
    async openEvaluationGroup(args: { groupKey: string; workflowId: string; runId: string }): Promise<{ ok: true; timing: EvaluationTiming } | { ok: false; reason: string }> {
      const group = await findEvaluationGroup(db, String(args.groupKey).slice(0, 300));
      if (group && group.workflowId === args.workflowId) return { ok: true, timing: group.timing as unknown as EvaluationTiming };
      const reason = group ? `group ${group.key} is evaluated by ${group.workflowId}, not ${args.workflowId}` : `no evaluation group ${String(args.groupKey).slice(0, 100)} was recorded`;
      await insertAuditOnce(db, 'runtime', 'evaluator.start.forged', args.workflowId, args.runId, { groupKey: String(args.groupKey).slice(0, 300), reason });
      return { ok: false, reason };
    },

    async evaluateBarClose(args: { groupKey: string; barClose: number; nowMs: number }): Promise<BarCloseEvaluation> {
      const startedAt = Date.now();
      const ctx = Context.current();
      const group = await findEvaluationGroup(db, args.groupKey);
      if (!group) throw new Error(`no evaluation group ${args.groupKey}`);
      const timing = group.timing as unknown as EvaluationTiming;
      // A recorded spec that does not validate is not evaluated (its own workflow refuses it and ends it failed): it
      // must not fail the close for the whole group.
      const all = await groupMembers(db, args.groupKey, args.barClose);
      const members = all.flatMap((m) => {
        const parsed = DeploymentSpecSchema.safeParse(m.spec);
        return parsed.success ? [{ ...m, spec: parsed.data }] : [];
      });
      const symbols = [...new Set(members.flatMap((m) => m.spec.symbols))];
      const windows = await readBars(timing, symbols, args.barClose);
      ctx.heartbeat();
      const tfMs = timeframeMs(timing.timeframe);
      const prepared = members.map((m) => {
        const { spec } = m;
        const prices: Record<string, number> = {};
        const memberWindows: Record<string, Bar[] | string> = {};
        for (const symbol of spec.symbols) {
          const w = windows.get(symbol) ?? 'market data unavailable: not read';
          memberWindows[symbol] = w;
          if (typeof w !== 'string' && w.length) prices[symbol] = w[w.length - 1]!.close;
        }
        return { m, spec, prices, windows: memberWindows };
      });
      // Every member's broker sync and risk snapshot, one statement per kind for all of them (activities/batch-sync.ts, batch-snapshots.ts).
      const inputs = await readMemberInputs(db, syncMembers, ctx, prepared.map(({ m, spec, prices }) => ({ deploymentId: m.deploymentId, broker: spec.broker, accountId: spec.accountId, prices })));
      ctx.heartbeat();
      const evaluated = prepared.map(({ m, spec, prices, windows: w }) => ({ m, ...planOne(m, spec, inputs.get(m.deploymentId)!, { barClose: args.barClose, nowMs: args.nowMs, tfMs, windows: w, prices }) }));
      const latencyMs = Date.now() - startedAt;
      const stored = await inTransaction(db, async (tx) => {
        const written = await writeRiskStates(tx, args.barClose, evaluated.map(({ m, plan }) => ({ deploymentId: m.deploymentId, version: m.version, cycle: plan.cycle, state: plan.riskState as unknown as Record<string, unknown> })));
        const mine = evaluated.filter(({ m }) => written.has(m.deploymentId));
        const rows: CycleAudit[] = mine.flatMap(({ m, plan, marks }) => plan.quiet.map((r) => cycleAudit(m, r, latencyMs, marks)));
        await insertCycles(tx, rows);
        const actions = mine.filter(({ plan }) => plan.payload).map(({ m, plan }) => ({ id: `${m.deploymentId}:${args.barClose}`, deploymentId: m.deploymentId, barClose: args.barClose, cycle: plan.cycle, paramsVersion: m.paramsVersion, payload: plan.payload as unknown as Record<string, unknown> }));
        await insertActions(tx, actions);
        // Each order's line for its wake (display only: the deployment's read checks it against the stored action).
        const lines = new Map<string, string>(mine.flatMap(({ m, plan }) => {
          const text = plan.payload ? actionLine(plan.payload, m.spec.strategy) : undefined;
          return text ? [[`${m.deploymentId}:${args.barClose}`, text] as const] : [];
        }));
        return { acting: actions.length, rows, lines };
      });
      // The paper broker fills at the closes the decisions were made at: one call for the group, before any wake.
      const paperCloses = Object.assign({}, ...prepared.filter((p) => p.spec.broker === 'paper').map((p) => p.prices)) as Record<string, number>;
      if (paperPrices && Object.keys(paperCloses).length > 0) await paperPrices.setPrices(paperCloses);
      // Late closes alert as a deployment's own cycles do: per deployment and hour, measured when its rows were stored.
      const at = await now();
      // Counted as a deployment's own recordCycle counts its rows (only rows this attempt stored: a retry stores none).
      for (const r of stored.rows) metrics?.cycleRecorded(r.action, liveLagMs(r.barCloseMs, at));
      for (const { m, plan } of evaluated) if (plan.quiet[0]) await alertProcessingLag(db, processingLagAlertMs?.(), m.deploymentId, plan.quiet[0], at);
      const pending = await pendingGroupActions(db, args.groupKey);
      // A wake lost before this close (or refused for its line) is sent again with its line, read back for it (rare).
      for (const a of await actionsWithStrategy(db, pending.filter((a) => !stored.lines.has(a.id)).map((a) => a.id))) {
        const text = actionLine(a.payload as unknown as ActionPayload, a.strategy);
        if (text) stored.lines.set(a.id, text);
      }
      const wake = pending.map((a) => {
        const text = stored.lines.get(a.id);
        return { workflowId: a.workflowId, actionId: a.id, ...(a.runId ? { runId: a.runId } : {}), ...(text ? { line: text } : {}) };
      });
      const look = await groupWaitingCommandHolders(db, args.groupKey);
      return { evaluated: members.length, acting: stored.acting, unreadable: evaluated.filter((e) => e.unreadable).length + all.length - members.length, wake, look, ms: Date.now() - startedAt };
    },
  };
}

function cycleAudit(m: GroupMember, r: CycleRecord, latencyMs: number, snapshot?: Marks): CycleAudit {
  return {
    deploymentId: m.deploymentId, cycle: r.cycle, symbol: r.symbol, barCloseMs: r.barClose, action: r.action, reason: r.reason ?? null,
    signal: r.signal !== undefined && Number.isFinite(r.signal) ? r.signal : null, indicators: r.indicators ?? {}, risk: r.risk ? { ...r.risk } : null,
    clientOrderIds: r.clientOrderIds, paramsVersion: m.paramsVersion, positionQty: snapshot?.positions[r.symbol] ?? 0, realizedPnl: snapshot?.totalPnl ?? 0, latencyMs,
  };
}
