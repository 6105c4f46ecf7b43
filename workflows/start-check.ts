import * as wf from '@temporalio/workflow';
import type { StartCheckActivities, StartClaim } from '../activities/start-checks';
import { localDbStep } from './activity-options';

/**
 * Every workflow a user could start by hand checks first that the API recorded it (activities/start-checks.ts) and
 * works from the record, never from its input: a start by hand with a made-up input, or a real id under another
 * workflow id, ends at once with one audit row and this result.
 */
export interface RefusedStart {
  status: 'refused';
  reason: string;
}

/** The checks, local: in the workflow's first task, retried (without limit) while Postgres does not answer. */
export const { verifyDeploymentStart, verifyApprovalStart, verifyNotificationDispatcherStart } = wf.proxyLocalActivities<StartCheckActivities>(localDbStep);

/** This run's chain (continue-as-new keeps the first run's id) and its input, for the audit row of a refusal. */
export function startClaim(input: unknown): StartClaim {
  const info = wf.workflowInfo();
  return { firstRunId: info.firstExecutionRunId, continued: info.continuedFromExecutionRunId !== undefined, sample: sample(input) };
}

/** A string field of an input nobody vouched for ('' when the input is not an object or the field not a string). */
export function inputField(input: unknown, key: string): string {
  const value = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' ? value.slice(0, 200) : '';
}

/** A payload as JSON for an audit row, cut short (it is whatever a sender chose to send). */
export function sample(arg: unknown): string {
  try {
    const s = JSON.stringify(arg) ?? String(arg);
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return '(not serializable)';
  }
}
