/** Exit codes: 1 for failures, 2 for usage errors (bad flags or flag values). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error printed as one line (plus optional detail lines) without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, details: string[] = []) => new CliError(message, EXIT_USAGE, details);

/** zod-like issues as "path: message" lines. */
export function issueLines(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey> | string; message: string; in?: string }>): string[] {
  return issues.map((i) => {
    const p = typeof i.path === 'string' ? i.path : i.path.map(String).join('.');
    const where = [i.in && i.in !== 'body' ? i.in : '', p].filter(Boolean).join('.');
    return `  ${where || '(request)'}: ${i.message}`;
  });
}
