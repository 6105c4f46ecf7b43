// Negative control for the replay gate: backtestWorkflow with its first two steps swapped and no patch().
// Replaying the recorded histories against it must raise a DeterminismViolationError.
import * as wf from '@temporalio/workflow';
import type { CpuActivities } from '../../../activities/cpu';
import type { IoActivities } from '../../../activities/io';
import { cpuCompute, dbWrite } from '../../../workflows/activity-options';
import type { BacktestSummary, BacktestWorkflowInput } from '../../../workflows/backtest/messages';

const { runBacktest } = wf.proxyActivities<CpuActivities>(cpuCompute);
const { startBacktestJob, finishBacktestJob } = wf.proxyActivities<IoActivities>(dbWrite);

export async function backtestWorkflow(input: BacktestWorkflowInput): Promise<BacktestSummary> {
  const summary = await runBacktest(input);
  await startBacktestJob({ jobId: input.jobId, firstRunId: wf.workflowInfo().firstExecutionRunId, continued: false, sample: '' });
  await finishBacktestJob({ jobId: input.jobId, status: 'completed' });
  return summary;
}
