import type { Timeframe } from '../bars';
import { timeframeMs } from '../calendar';
import { SYMBOL_LOCK_TTL_MS } from '../eod/policy';
import { clientOrderId } from '../ids';
import type { OrderIntent } from '../risk/gate';
import type { ActionPayload } from './batch';
import type { DeploymentStatus, RuntimeStatus } from './commands';

/**
 * What a batch deployment's workflow knows when it acts on a stored action (workflows/deployment/acts.ts), passed to
 * the local activity that reads the action so both decide the same way whether its decisions still go out.
 */
export interface ActFacts {
  status: RuntimeStatus;
  /** the status as the row shows it (a skip's reason says it) */
  shown: DeploymentStatus;
  pausedAt?: number;
  flattenedAt?: number;
  /** data time now (ms) */
  dataNow: number;
  staleAfterBars: number;
  timeframe: Timeframe;
}

/**
 * Whether a close's decisions still go out: not when the wake came too late (older than staleAfterBars), the
 * deployment is not running, or it was paused or flattened since the close (even if resumed by now). `late` alone
 * also drops the action's block change and flatten; a flatten is superseding: its decisions were made on the
 * positions it closed (an entry would re-open one, an exit would go the other way).
 */
export function actSkip(barClose: number, f: ActFacts): { late: boolean; why: string | undefined } {
  const late = barClose < f.dataNow - f.staleAfterBars * timeframeMs(f.timeframe);
  const why = late
    ? `expired: woken after ${f.staleAfterBars} bar(s) had passed since the close`
    : f.status !== 'running' ? `deployment ${f.shown} since the close`
    : (f.pausedAt ?? 0) >= barClose ? 'deployment paused since the close'
    : (f.flattenedAt ?? 0) >= barClose ? 'deployment flattened since the close' : undefined;
  return { late, why };
}

export type OrderAct = ActionPayload['acts'][number] & { action: { kind: 'order' } };

/**
 * The common order wake: one symbol's order and nothing else (no failure, flatten, block change, exit filled at its
 * level, or reason to skip), which the action's read can place and record in the same local activity.
 */
export function simpleOrderAct(p: ActionPayload, f: ActFacts): OrderAct | undefined {
  if (p.acts.length !== 1 || p.fail !== undefined || p.flatten || p.blockedBy !== undefined) return undefined;
  const act = p.acts[0]!;
  if (act.action.kind !== 'order' || act.action.fillAtLevel) return undefined;
  return actSkip(p.barClose, f).why === undefined ? (act as OrderAct) : undefined;
}

export interface OrderPlacement {
  workflowId: string;
  deploymentId: string;
  broker: string;
  accountId: string;
  cycle: number;
  leg: number;
  intentVersion: number;
  intent: OrderIntent;
  reducing: boolean;
  /** data time the order was decided at */
  dataTs: number;
}

/** A deployment's order as the ledger takes it (activities/orders.ts PlaceOrderInput): its client order id from workflow, cycle, leg and version. */
export function orderInputOf(o: OrderPlacement) {
  return {
    clientOrderId: clientOrderId(o.workflowId, o.cycle, o.leg, o.intentVersion), deploymentId: o.deploymentId, workflowId: o.workflowId, cycle: o.cycle, leg: o.leg, intentVersion: o.intentVersion,
    broker: o.broker, accountId: o.accountId, symbol: o.intent.symbol, side: o.intent.side, qty: o.intent.qty, orderType: 'market' as const, timeInForce: 'day' as const,
    dataTs: o.dataTs,
    // An entry first takes the (account, symbol) lock: brokers net positions per symbol, so one holder at a time.
    ...(o.reducing ? {} : { symbolLock: { ttlMs: SYMBOL_LOCK_TTL_MS } }),
  };
}
