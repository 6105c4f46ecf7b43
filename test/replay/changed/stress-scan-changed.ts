// Negative control for the replay gate: stressScanWorkflow that goes straight to its final step, skipping the batches,
// with no patch(). Replaying the recorded stress-scan histories against it must raise a DeterminismViolationError.
import * as wf from '@temporalio/workflow';
import type { CpuActivities } from '../../../activities/cpu';
import type { IoActivities } from '../../../activities/io';
import { cpuCompute, dbWrite } from '../../../workflows/activity-options';
import { startClaim } from '../../../workflows/start-check';
import type { StressScanSummary, StressScanWorkflowInput } from '../../../workflows/stress-scan/messages';

const { finishStressScan } = wf.proxyActivities<CpuActivities>(cpuCompute);
const { startStressScanJob } = wf.proxyActivities<IoActivities>(dbWrite);

export async function stressScanWorkflow(input: StressScanWorkflowInput): Promise<StressScanSummary> {
  await startStressScanJob({ ...startClaim(input), jobId: input.jobId });
  return finishStressScan({ jobId: input.jobId });
}
