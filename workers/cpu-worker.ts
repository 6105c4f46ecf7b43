import { Worker } from '@temporalio/worker';
import { BarCache } from '../activities/bar-cache';
import { createCpuActivities } from '../activities/cpu';
import type { WorkflowSignaller } from '../activities/ports';
import { baseWorkerOptions, workerMain } from './worker-process';

/** `npm run worker:cpu`: backtests and stress scans on the cpu queue, CPU_ACTIVITY_SLOTS at a time. */
workerMain('cpu', async (p, connection) => {
  // Long activities report progress to their workflow with a signal.
  const workflows: WorkflowSignaller = {
    async signal(workflowId, runId, signalName, arg) {
      await p.client.workflow.getHandle(workflowId, runId).signal(signalName, arg);
    },
  };
  return Worker.create({
    ...baseWorkerOptions(p, connection),
    activities: createCpuActivities({ db: p.db, workflows, barCache: new BarCache(p.config.SCAN_BAR_CACHE_MB * 1024 * 1024) }),
    maxConcurrentActivityTaskExecutions: p.config.CPU_ACTIVITY_SLOTS,
  });
});
