import * as wf from '@temporalio/workflow';
import type { CpuActivities } from '../../activities/cpu';
import type { IoActivities } from '../../activities/io';
import { cpuCompute, dbWrite } from '../activity-options';
import { failureMessage } from '../failure-message';
import { backtestProgressQuery, backtestProgressSignal } from './messages';
import type { BacktestProgress, BacktestSummary, BacktestWorkflowInput } from './messages';

const { runBacktest } = wf.proxyActivities<CpuActivities>({
  ...cpuCompute,
  // The activity must see the cancel (through its heartbeat) and stop before the job is marked cancelled.
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
const { markBacktestRunning, finishBacktestJob } = wf.proxyActivities<IoActivities>(dbWrite);

/** One backtest job: mark it running, run it on the CPU queue, record how it ended. */
export async function backtestWorkflow(input: BacktestWorkflowInput): Promise<BacktestSummary> {
  const progress: BacktestProgress = { phase: 'queued', barsDone: 0, barsTotal: 0, fraction: 0 };
  wf.setHandler(backtestProgressQuery, () => progress);
  wf.setHandler(backtestProgressSignal, ({ barsDone, barsTotal }) => {
    if (barsDone < progress.barsDone) return; // a retried attempt starts over; keep the query monotonic
    progress.barsDone = barsDone;
    progress.barsTotal = barsTotal;
    progress.fraction = barsTotal > 0 ? barsDone / barsTotal : 0;
  });

  try {
    await markBacktestRunning(input.jobId);
    progress.phase = 'running';
    const summary = await runBacktest(input);
    progress.phase = 'persisting';
    await finishBacktestJob({ jobId: input.jobId, status: 'completed' });
    Object.assign(progress, { phase: 'completed', barsDone: summary.bars, barsTotal: summary.bars, fraction: 1 });
    return summary;
  } catch (err) {
    const cancelled = wf.isCancellation(err);
    progress.phase = cancelled ? 'cancelled' : 'failed';
    await wf.CancellationScope.nonCancellable(() =>
      finishBacktestJob({ jobId: input.jobId, status: progress.phase as 'cancelled' | 'failed', error: cancelled ? undefined : failureMessage(err) }),
    );
    throw err;
  }
}
