/** The message a job row records for a failed workflow: the innermost cause's (an ActivityFailure wraps the activity's own). */
export function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return (e?.message ?? String(err)).slice(0, 2000);
}
