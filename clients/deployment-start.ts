import type { WorkflowStartOptions } from '@temporalio/client';
import type { DeploymentWorkflowInput } from '../workflows/deployment/messages';
import type { deploymentWorkflow } from '../workflows/deployment/workflow';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * How a deployment's runtime is started (the API, and the runtime benchmark, which must start it the same way):
 * workflow id `deployment-<id>`, the io queue, never a second runtime for one id, and its search attributes.
 */
export function deploymentStartOptions(input: DeploymentWorkflowInput): WorkflowStartOptions<typeof deploymentWorkflow> {
  return {
    taskQueue: TASK_QUEUES.io,
    workflowId: `deployment-${input.deploymentId}`,
    args: [input],
    // One runtime per deployment, ever: a second start with this id fails instead of attaching or replacing.
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.deploymentId, value: input.deploymentId },
      { key: SEARCH_ATTRIBUTES.accountId, value: input.spec.accountId },
      { key: SEARCH_ATTRIBUTES.strategy, value: input.spec.strategy },
      { key: SEARCH_ATTRIBUTES.symbol, value: input.spec.symbols[0]! },
    ],
  };
}
