import type { Bar } from '../bars';
import { nextBarClose, timeframeMs } from '../calendar';
import type { RuntimeStatus } from './commands';
import { evaluateDeployment, type CycleRecord, type EvaluationSnapshot, type SymbolAction } from './evaluate';
import { afterOrder, type DeploymentRiskState } from './risk-state';
import type { DeploymentSpec, ReplayClockSpec } from './spec';

/**
 * Batch evaluation (spec.evaluation = 'batch'): the deployments that share their bar closes form a group, evaluated
 * together at each close by one workflow; a deployment's own workflow is woken only to act on what was decided.
 */

/** Bars read per symbol at a close: enough for every strategy's warm-up at its default and common parameters. */
export const WINDOW_BARS = 300;

/** What the deployments of a group share: when their bars close, and how their bars are read. */
export interface EvaluationTiming {
  calendar: DeploymentSpec['calendar'];
  timeframe: DeploymentSpec['timeframe'];
  settleDelayMs: number;
  staleAfterBars: number;
  dataProvider?: string;
  barWaitMs?: number;
  clock?: ReplayClockSpec;
}

export function evaluationTiming(spec: DeploymentSpec, clock: ReplayClockSpec | undefined): EvaluationTiming {
  return {
    calendar: spec.calendar, timeframe: spec.timeframe, settleDelayMs: spec.settleDelayMs, staleAfterBars: spec.staleAfterBars,
    ...(spec.dataProvider ? { dataProvider: spec.dataProvider, ...(spec.barWaitMs !== undefined ? { barWaitMs: spec.barWaitMs } : {}) } : {}),
    ...(clock ? { clock } : {}),
  };
}

/** The group's key, readable in a workflow id: e.g. `XNYS-1m-s2000-a2`, with the feed and the replay clock when set. */
export function evaluationGroupKey(t: EvaluationTiming): string {
  const feed = t.dataProvider ? `-${t.dataProvider}w${t.barWaitMs ?? 'd'}` : '';
  const clock = t.clock ? `-c${t.clock.dataStartMs}x${t.clock.speed}at${t.clock.wallStartMs}` : '';
  return `${t.calendar}-${t.timeframe}-s${t.settleDelayMs}-a${t.staleAfterBars}${feed}${clock}`;
}

/**
 * The close a group's evaluator evaluates next: the one after the last it evaluated, as a deployment evaluating its own
 * closes takes the bar after the last it handled; only when that close is more than staleAfterBars old (after a long
 * stop or outage), the present (old closes are not traded). A late evaluation therefore never skips a close that is
 * still tradeable (it used to skip one whenever it ran a bar late, and any entry decided at it). `dataNow` is data time
 * (a replay clock's).
 */
export function nextEvaluatedClose(t: Pick<EvaluationTiming, 'calendar' | 'timeframe' | 'settleDelayMs' | 'staleAfterBars'>, lastClose: number, dataNow: number): number {
  if (lastClose > 0) {
    const next = nextBarClose(t.calendar, lastClose, t.timeframe);
    if (next >= dataNow - t.staleAfterBars * timeframeMs(t.timeframe)) return next;
  }
  return nextBarClose(t.calendar, Math.max(lastClose, dataNow - t.settleDelayMs - 1), t.timeframe);
}

/** What a deployment's workflow must do for one close: the evaluator's decisions, with what performing them needs. */
export interface ActionPayload {
  barClose: number;
  cycle: number;
  paramsVersion: number;
  /** symbols with something to do, with their cycle row as decided (the action's result completes it) */
  acts: Array<{ symbol: string; record: CycleRecord; action: Exclude<SymbolAction, { kind: 'none' }> }>;
  snapshot: Pick<EvaluationSnapshot, 'positions' | 'totalPnl' | 'kill'>;
  /** the closes the decisions were made at (the paper broker fills at them) */
  prices: Record<string, number>;
  /** the hard breaker latched: close every position */
  flatten: boolean;
  /** the reconciliation findings, when the deployment's block must change (entered, or left: []) */
  blockedBy?: string[];
  /** the risk state's fields an approval request records for its re-check (and the state query shows) */
  risk?: Pick<DeploymentRiskState, 'breaker' | 'equityPeak' | 'dayStartPnl'>;
  /** its inputs failed in a way retrying cannot fix (a broker the worker has not configured): the deployment ends as failed */
  fail?: string;
}

export interface MemberInputs {
  spec: DeploymentSpec;
  params: Record<string, number | boolean>;
  paramsVersion: number;
  /** the deployments row's status ('blocked' is running with reconciliation findings) */
  rowStatus: string;
  /** the last cycle number given out */
  cycle: number;
  riskState: DeploymentRiskState;
  barClose: number;
  nowMs: number;
  timeframeMs: number;
  snapshot: EvaluationSnapshot;
  blockedBy: string[];
  windows: Record<string, Bar[] | string>;
  prices: Record<string, number>;
}

export interface MemberPlan {
  cycle: number;
  riskState: DeploymentRiskState;
  /** cycle rows of the symbols with nothing to do (the acting ones are written by the deployment's workflow) */
  quiet: CycleRecord[];
  /** undefined: nothing to do, the deployment's workflow is not woken */
  payload?: ActionPayload;
}

/**
 * One deployment at one close, as its own workflow would decide it (evaluateDeployment), split into what the evaluator
 * records itself and what the deployment must do. A stop exit starts its cooldown when it is decided, not when the
 * broker takes it (the evaluator does not wait for the order): a refused stop exit still holds off re-entry.
 */
export function planMember(m: MemberInputs): MemberPlan {
  const cycle = m.cycle + 1;
  const status: RuntimeStatus = 'running';
  const ev = evaluateDeployment({ spec: m.spec, params: m.params, cycle, barClose: m.barClose, nowMs: m.nowMs, timeframeMs: m.timeframeMs, snapshot: m.snapshot, status, blockedBy: m.blockedBy, windows: m.windows, riskState: m.riskState });
  let riskState = ev.nextRiskState;
  const quiet: CycleRecord[] = [];
  const acts: ActionPayload['acts'] = [];
  for (const { symbol, record, action } of ev.perSymbol) {
    if (action.kind === 'none') {
      quiet.push(record);
      continue;
    }
    acts.push({ symbol, record, action });
    if (action.kind === 'order') riskState = afterOrder(riskState, symbol, cycle, action.intent.reason, 'ACCEPTED');
  }
  const blockChanged = (m.rowStatus === 'blocked') !== m.blockedBy.length > 0;
  if (acts.length === 0 && !ev.flattenRequested && !blockChanged) return { cycle, riskState, quiet };
  const { positions, totalPnl, kill } = m.snapshot;
  const payload: ActionPayload = {
    barClose: m.barClose, cycle, paramsVersion: m.paramsVersion, acts, snapshot: { positions, totalPnl, kill }, prices: m.prices,
    flatten: ev.flattenRequested, ...(blockChanged ? { blockedBy: m.blockedBy } : {}),
    risk: { breaker: riskState.breaker, equityPeak: riskState.equityPeak, dayStartPnl: riskState.dayStartPnl },
  };
  return { cycle, riskState, quiet, payload };
}

/** The action that ends a deployment as failed, as its own cycle would on the same configuration fault. */
export function failurePayload(at: { barClose: number; cycle: number; paramsVersion: number }, reason: string): ActionPayload {
  return {
    ...at, acts: [], snapshot: { positions: {}, totalPnl: 0, kill: { global: false, account: false, deployment: false } }, prices: {}, flatten: false, fail: reason,
  };
}

/** A new deployment's risk state: no breaker, its capital as the equity peak. */
export function initialRiskState(spec: Pick<DeploymentSpec, 'riskLimits'>): DeploymentRiskState {
  return { breaker: 'none', equityPeak: spec.riskLimits.maxExposure, day: '', dayStartPnl: 0 };
}
