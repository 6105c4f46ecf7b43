import * as wf from '@temporalio/workflow';
import { ErrorType } from '../errors';

/** A failure retrying cannot fix (a broker this worker has not configured, refused credentials, invalid input). */
export function isConfigFault(err: unknown): boolean {
  const cause = err instanceof wf.ActivityFailure ? err.cause : err;
  return cause instanceof wf.ApplicationFailure && [ErrorType.BrokerNotConfigured, ErrorType.InvalidInput, ErrorType.IntentMismatch].includes(cause.type as never);
}

/** A failure in a few words: the activity and its cause's message. */
export function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string }; activityType?: string };
  const what = err instanceof wf.ActivityFailure ? `${e.activityType ?? 'activity'}: ` : '';
  return `${what}${e.cause?.message ?? e.message ?? String(err)}`.slice(0, 500);
}
