/**
 * Workflow ids, one rule per workflow type. Workflow code needs them too (a deployment starts its approvals as
 * children), so they live here; the client-side start options are in services/start-options.ts.
 */
export const deploymentWorkflowId = (deploymentId: string) => `deployment-${deploymentId}`;
export const backtestWorkflowId = (jobId: string) => `backtest-${jobId}`;
export const approvalWorkflowId = (approvalId: string) => `approval-${approvalId}`;
export const stressScanWorkflowId = (jobId: string) => `stress-scan-${jobId}`;
export const evaluatorWorkflowId = (groupKey: string) => `evaluator-${groupKey}`;
