import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export interface EvaluatorInput {
  groupKey: string;
  /** the last close evaluated (continue-as-new carries it) */
  lastClose?: number;
  closes?: number;
  /** continue-as-new after this many closes (tests make it small) */
  closesPerRun?: number;
}

export interface EvaluatorResult {
  outcome: 'refused';
  reason: string;
}

export interface EvaluatorState {
  groupKey: string;
  closes: number;
  nextClose: number | null;
  waitingOn: string;
  last: { barClose: number; evaluated: number; acting: number; unreadable: number; woken: number; looked: number; ms: number } | null;
  /** closes whose evaluation failed after every attempt (skipped for the whole group) */
  failures: number;
}

export const evaluatorStateQuery = defineQuery<EvaluatorState>('evaluatorState');

/**
 * Wakes a batch-evaluated deployment's workflow to act: `{ actionId }` of an action the evaluator stored
 * (deployment_actions). The deployment reads the action from there; the signal carries nothing it trusts.
 * `line`: the action's order as a line for its history (domain/deployment/order-line.ts actionLine), display only;
 * the action's read refuses a wake whose line is not the one the stored action gives.
 */
export interface ActMessage {
  actionId: string;
  line?: string;
}
export const deploymentActSignal = defineSignal<[ActMessage]>('deploymentAct');

/** What a `deploymentAct` update is answered: its id queued (or queued already), or why the message was refused. */
export interface ActWakeOutcome {
  state: 'queued' | 'refused';
  detail: string;
}

/**
 * The same wake as an update, which is how the evaluator sends it (activities/batch-wakes.ts). The server hands an
 * update to an idle workflow in a task it writes only once that task completes: at 120 wakes on the dev server,
 * fewer store writes and sooner orders than a signal, which it writes, then schedules a task for, then writes again.
 * Its answer is given at once (the action's order goes out in the same task), so the sender waits for that one task.
 */
export const deploymentActUpdate = defineUpdate<ActWakeOutcome, [ActMessage]>('deploymentAct');

/**
 * Tells a batch-evaluated deployment's workflow that commands the API recorded for it are still waiting (their message
 * may have been lost): it reads them from Postgres, as a deployment of its own does at each cycle. Carries nothing.
 */
export const deploymentLookSignal = defineSignal<[]>('deploymentLook');
