import * as wf from '@temporalio/workflow';
import type { CpuActivities } from '../../activities/cpu';
import type { IoActivities } from '../../activities/io';
import { cpuCompute, dbWrite } from '../activity-options';
import { inputField, startClaim, type RefusedStart } from '../start-check';
import { failureMessage } from '../failure-message';
import { backtestLine, grouped } from '../summaries';
import { backtestProgressQuery, backtestProgressSignal } from './messages';
import type { BacktestProgress, BacktestSummary, BacktestWorkflowInput } from './messages';

const { runBacktest } = wf.proxyActivities<CpuActivities>({
  ...cpuCompute,
  // The activity must see the cancel (through its heartbeat) and stop before the job is marked cancelled.
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
const { startBacktestJob, finishBacktestJob } = wf.proxyActivities<IoActivities>(dbWrite);

/**
 * One backtest job: check the job the API recorded and mark it running (a start by hand, with a made-up job or a real
 * job's id under another workflow id, ends there with one audit row and writes nothing to any job), run what the job
 * records on the CPU queue, record how it ended.
 */
export async function backtestWorkflow(input: BacktestWorkflowInput): Promise<BacktestSummary | RefusedStart> {
  const progress: BacktestProgress = { phase: 'queued', barsDone: 0, barsTotal: 0, fraction: 0 };
  wf.setHandler(backtestProgressQuery, () => progress);
  wf.setHandler(backtestProgressSignal, ({ barsDone, barsTotal }) => {
    if (barsDone < progress.barsDone) return; // a retried attempt starts over; keep the query monotonic
    progress.barsDone = barsDone;
    progress.barsTotal = barsTotal;
    progress.fraction = barsTotal > 0 ? barsDone / barsTotal : 0;
  });

  // Not cancellable: a cancel must not make a refused start write to the job its input names.
  const start = await wf.CancellationScope.nonCancellable(() =>
    startBacktestJob.executeWithOptions({ summary: 'verify the job, mark it running' }, [{ ...startClaim(input), jobId: inputField(input, 'jobId') }]),
  );
  if (!start.ok) {
    progress.phase = 'refused';
    return { status: 'refused', reason: start.reason };
  }
  const job = start.record;
  try {
    progress.phase = 'running';
    const summary = await runBacktest.executeWithOptions({ summary: backtestLine(job) }, [job]);
    progress.phase = 'persisting';
    await finishBacktestJob.executeWithOptions({ summary: `completed · ${grouped(summary.bars)} bars, ${grouped(summary.trades)} trades` }, [{ jobId: job.jobId, status: 'completed' }]);
    Object.assign(progress, { phase: 'completed', barsDone: summary.bars, barsTotal: summary.bars, fraction: 1 });
    return summary;
  } catch (err) {
    const cancelled = wf.isCancellation(err);
    progress.phase = cancelled ? 'cancelled' : 'failed';
    await wf.CancellationScope.nonCancellable(() =>
      finishBacktestJob.executeWithOptions({ summary: `backtest ${progress.phase}` }, [{ jobId: job.jobId, status: progress.phase as 'cancelled' | 'failed', error: cancelled ? undefined : failureMessage(err) }]),
    );
    throw err;
  }
}
