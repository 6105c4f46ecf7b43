/**
 * Workflow time. Inside the workflow sandbox Date.now() is the deterministic time of the current workflow
 * task (recorded in history, identical on replay), not the wall clock; this is the one place that reads it.
 */
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-properties -- the sandbox's Date is workflow time
  return Date.now();
}
