/** One problem with a scan request, at a path in the request (as zod reports them), e.g. ['grid', 'fast']. */
export interface ScanIssue {
  path: Array<string | number>;
  message: string;
}

/**
 * A scan request that cannot run (an empty or oversized grid, unknown parameters, a train window longer than the
 * data, ...). Thrown before any backtest runs; the API answers it with 400 and the CLI with exit code 2.
 */
export class ScanSpecError extends Error {
  readonly issues: ScanIssue[];

  constructor(issues: ScanIssue[]) {
    super(issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '));
    this.name = 'ScanSpecError';
    this.issues = issues;
  }
}

export const specError = (path: Array<string | number>, message: string) => new ScanSpecError([{ path, message }]);
