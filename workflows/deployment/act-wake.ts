import * as wf from '@temporalio/workflow';
import type { ActOnDeploymentActionResult } from '../../activities/deployment-act';
import type { ActFacts } from '../../domain/deployment/decided-act';
import { line } from '../summaries';
import { actOnDeploymentAction } from './activities';
import { isConfigFault } from './failures';
import type { Runtime } from './runtime';

/**
 * A batch deployment's order wake as one local activity (activities/deployment-act.ts): what it is given, and its
 * line in the Temporal UI. The rest of the wake is ./acts.ts.
 */

/** What the action's read needs to decide whether its decisions still go out (domain/deployment/decided-act.ts). */
export function factsOf(rt: Runtime, dataNow = rt.dataNow()): ActFacts {
  const { carry, spec } = rt;
  return {
    status: carry.status, shown: rt.shown(), dataNow, staleAfterBars: spec.staleAfterBars, timeframe: spec.timeframe,
    ...(carry.pausedAt !== undefined ? { pausedAt: carry.pausedAt } : {}), ...(carry.flattenedAt !== undefined ? { flattenedAt: carry.flattenedAt } : {}),
  };
}

/**
 * The wake's one local activity: the action's read, and in the common case its order and cycle row
 * (activities/deployment-act.ts). Undefined when it failed (no retry in the task: the caller reads the action again).
 * `wakeLine`: the order's line its wake carried, which the read checks against the stored action (a different one is
 * refused like a forged id), so the line it shows names the order sent.
 */
export async function actOnWake(rt: Runtime, actionId: string, facts: ActFacts, startedAt: number, wakeLine?: string): Promise<ActOnDeploymentActionResult | undefined> {
  const { spec } = rt;
  // Given when the task asks for it, before the action is read: the wake's line and the close, or the close and the strategy.
  const summary = wakeLine !== undefined ? line(`${wakeLine} · ${actSummary(actionId)}`) : actSummary(actionId, spec.strategy);
  try {
    return await actOnDeploymentAction.executeWithOptions({ summary }, [
      {
        deploymentId: rt.deploymentId, actionId, runKey: wf.workflowInfo().runId, workflowId: rt.workflowId, broker: spec.broker, accountId: spec.accountId, facts, startedAt,
        ...(wakeLine !== undefined ? { wakeLine: { line: wakeLine, strategy: spec.strategy } } : {}),
      },
    ]);
  } catch (err) {
    if (wf.isCancellation(err) || isConfigFault(err)) throw err;
    return undefined;
  }
}

/** `act on the close at 14:35Z` (`· sma-cross` with the strategy) for an evaluator's id (`<deployment>:<close ms>`), else the id as sent, cut short. */
export function actSummary(actionId: string, strategy?: string): string {
  const close = Number(actionId.slice(actionId.lastIndexOf(':') + 1));
  const by = strategy === undefined ? '' : ` · ${strategy}`;
  return close > 0 && close < 1e14 ? line(`act on the close at ${new Date(close).toISOString().replace(':00.000Z', 'Z')}${by}`) : line(`read action ${actionId.slice(0, 80)}`);
}
