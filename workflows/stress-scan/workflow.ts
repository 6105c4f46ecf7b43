import * as wf from '@temporalio/workflow';
import type { CpuActivities } from '../../activities/cpu';
import type { IoActivities } from '../../activities/io';
import { batchAt, batchLabel, type ScanPlan } from '../../domain/scan/batches';
import { cpuCompute, dbWrite, scanBatch } from '../activity-options';
import { failureMessage } from '../failure-message';
import { inputField, startClaim, type RefusedStart } from '../start-check';
import { stressScanProgressQuery } from './messages';
import type { StressScanProgress, StressScanResume, StressScanSummary, StressScanWorkflowInput } from './messages';

// Batches and the final step must see a cancel (through their heartbeats) and stop before the job is marked cancelled.
const cancellation = { cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
const { runStressScanBatch } = wf.proxyActivities<CpuActivities>({ ...scanBatch, ...cancellation });
const { finishStressScan } = wf.proxyActivities<CpuActivities>({ ...cpuCompute, ...cancellation });
const { startStressScanJob, finishStressScanJob } = wf.proxyActivities<IoActivities>(dbWrite);

/** A knob from the input, rounded down and bounded; anything but a finite number is the default. */
const clamp = (v: unknown, lo: number, hi: number, dflt: number) => Math.min(hi, Math.max(lo, Math.floor(typeof v === 'number' && Number.isFinite(v) ? v : dflt)));

/**
 * One stress scan: every run first checks the job the API recorded (a start by hand, with a made-up job or a real
 * job's id under another workflow id, ends there with one audit row and writes nothing to any job) and works through
 * the job's recorded plan: its batches on the CPU queue, a few at a time, each storing its runs as it finishes;
 * continues as new before a run's history grows large; then the final step ranks the cells and stores the
 * document (completing the job). Cancellable; a failed batch (after its retries) cancels the others and fails the
 * scan; a cancelled or failed scan records its outcome on the IO queue.
 */
export async function stressScanWorkflow(input: StressScanWorkflowInput): Promise<StressScanSummary | RefusedStart> {
  const claim = startClaim(input);
  // Only a run that continues one of this chain reads where it left off: our own code wrote that input.
  const resumed: StressScanResume | undefined = claim.continued ? input.resume : undefined;
  const knobs: Partial<StressScanWorkflowInput> = typeof input === 'object' && input !== null ? input : {};
  const historyBudget = clamp(knobs.historyBudget, 100, 8_000, 3_000);
  const maxInFlight = clamp(knobs.maxInFlight, 1, 32, 4);
  const workflowRuns = (resumed?.runs ?? 0) + 1;
  const progress: StressScanProgress = { phase: 'queued', runsDone: 0, runsTotal: 0, fraction: 0, batchesDone: 0, batchesTotal: 0, batchesInFlight: 0, workflowRuns };
  wf.setHandler(stressScanProgressQuery, () => progress);

  // Not cancellable: a cancel must not make a refused start write to the job its input names.
  const start = await wf.CancellationScope.nonCancellable(() =>
    startStressScanJob.executeWithOptions({ summary: resumed ? `verify the scan job · resume at batch ${resumed.nextBatch}` : 'verify the scan job, mark it running' }, [{ ...claim, jobId: inputField(input, 'jobId') }]),
  );
  if (!start.ok) {
    progress.phase = 'refused';
    return { status: 'refused', reason: start.reason };
  }
  const { jobId, plan } = start.record;
  const label = inputField(input, 'label') || `stress scan ${jobId}`;
  const show = () => {
    progress.fraction = plan.runsTotal > 0 ? progress.runsDone / plan.runsTotal : 0;
    wf.setCurrentDetails(`${label}\n\n${progress.phase}: ${progress.runsDone} of ${plan.runsTotal} runs, ${progress.batchesDone} of ${plan.batches} batches, workflow run ${workflowRuns}`);
  };

  try {
    const resume: StressScanResume = resumed ?? { nextBatch: 0, runsDone: 0, runs: 0 };
    Object.assign(progress, { phase: 'running', runsDone: resume.runsDone, runsTotal: plan.runsTotal, batchesDone: resume.nextBatch, batchesTotal: plan.batches });
    show();

    const next = await runBatches(jobId, plan, resume.nextBatch, maxInFlight, historyBudget, progress, show);
    if (next < plan.batches) {
      await wf.continueAsNew<typeof stressScanWorkflow>({ ...input, resume: { nextBatch: next, runsDone: progress.runsDone, runs: workflowRuns } });
    }

    progress.phase = 'finishing';
    show();
    // the final step stores the document and the completed status in one statement (so no activity follows it)
    const summary = await finishStressScan.executeWithOptions({ ...cpuCompute, ...cancellation, summary: 'rank the cells, store the document' }, [{ jobId }]);
    Object.assign(progress, { phase: 'completed', runsDone: plan.runsTotal });
    show();
    return summary;
  } catch (err) {
    if (err instanceof wf.ContinueAsNew) throw err;
    const cancelled = wf.isCancellation(err);
    progress.phase = cancelled ? 'cancelled' : 'failed';
    await wf.CancellationScope.nonCancellable(() =>
      finishStressScanJob.executeWithOptions({ summary: `scan ${progress.phase} · ${progress.runsDone} of ${plan.runsTotal} runs done` }, [
        { jobId, status: progress.phase as 'cancelled' | 'failed', error: cancelled ? undefined : failureMessage(err) },
      ]),
    );
    throw err;
  }
}

/**
 * Runs batches from `first` on, at most maxInFlight at once, until all are done or the run's history reaches its
 * budget; returns the first batch not run (every batch before it has finished). The first failure cancels the
 * batches still running and is thrown once they have stopped.
 */
async function runBatches(jobId: string, plan: ScanPlan, first: number, maxInFlight: number, historyBudget: number, progress: StressScanProgress, show: () => void): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let next = first;
  const scope = new wf.CancellationScope();
  await scope.run(async () => {
    const full = () => wf.workflowInfo().historyLength >= historyBudget || wf.workflowInfo().continueAsNewSuggested;
    while (next < plan.batches && failure === undefined && !full()) {
      if (inFlight.size >= maxInFlight) {
        await Promise.race(inFlight);
        continue;
      }
      const b = batchAt(plan, next++)!;
      const done = runStressScanBatch
        .executeWithOptions({ ...scanBatch, ...cancellation, summary: batchLabel(b) }, [{ jobId, stage: b.stage, from: b.from, to: b.to }])
        .then(
          () => {
            progress.runsDone += b.to - b.from;
            progress.batchesDone++;
            show();
          },
          (err: unknown) => {
            failure ??= err;
            scope.cancel();
          },
        )
        .finally(() => {
          inFlight.delete(done);
          progress.batchesInFlight = inFlight.size;
        });
      inFlight.add(done);
      progress.batchesInFlight = inFlight.size;
    }
    await Promise.all(inFlight);
  });
  if (failure !== undefined) throw failure;
  return next;
}
