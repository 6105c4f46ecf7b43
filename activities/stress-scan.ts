import os from 'node:os';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { inTransaction } from '../db/sql/queryable';
import { finishBatchAttempt, startBatchAttempt } from '../db/sql/stress-scan-batches';
import { insertCells, storedCells } from '../db/sql/stress-scan-cells';
import { addRunsDone } from '../db/sql/stress-scan-jobs';
import { insertRuns, storedRuns } from '../db/sql/stress-scan-runs';
import { stageRuns, type StageRun } from '../domain/scan/stage-runs';
import { ErrorType } from '../workflows/errors';
import type { StressScanBatchInput, StressScanBatchResult, StressScanSummary } from '../workflows/stress-scan/messages';
import { BarCache } from './bar-cache';
import { ComputeLock } from './compute-lock';
import { finishScan } from './scan-finish';
import { ScanJobs, type ScanJob } from './scan-context';
import type { CpuDeps } from './ports';

/** Compute between two yields to the event loop: heartbeats and cancels get through, the loop barely notices. */
const SLICE_MS = 50;
/** Default bar cache of a worker process: ten 500k-bar series. */
const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * Stress-scan compute for the CPU queue. A batch skips the runs already stored, computes the rest and stores them
 * in one transaction with ON CONFLICT DO NOTHING, so a batch retried after a crash recomputes only what the dead
 * attempt had not stored, and a run is stored once whatever happens.
 */
export function createStressScanActivities({ db, barCache }: CpuDeps & { barCache?: BarCache }) {
  const jobs = new ScanJobs(db, barCache ?? new BarCache(DEFAULT_CACHE_BYTES));
  const lock = new ComputeLock();
  const worker = `${os.hostname()}:${process.pid}`;
  /** The runs (places in scan.cells) of a batch of cells whose cell is stored already. */
  const storedCellRuns = async (job: ScanJob, runs: number[]): Promise<Set<number>> => {
    const runOf = new Map(runs.map((r) => [job.scan.cells[r], r]));
    const stored = await storedCells(db, job.row.id, [...runOf.keys()]);
    return new Set([...stored].map((cell) => runOf.get(cell)!));
  };
  return {
    /** Runs [from, to) of one stage of a scan's plan, heartbeating after each slice of runs; cancellable. */
    async runStressScanBatch(input: StressScanBatchInput): Promise<StressScanBatchResult> {
      const ctx = Context.current();
      const job = await jobs.job(input.jobId);
      const runs = batchRuns(job, input);
      const { bars, loaded } = await jobs.bars(job, () => ctx.heartbeat({ phase: 'loading bars' }));
      // bars loaded: wait for the process's compute thread (heartbeating), then skip what is stored and compute the rest
      const release = await lock.acquire(ctx.cancelled, () => ctx.heartbeat({ phase: 'waiting for the compute thread' }));
      let attemptId: string;
      let todo: number[];
      const out: StageRun[] = [];
      try {
        const stored = input.stage === 'cells' ? await storedCellRuns(job, runs) : await storedRuns(db, input.jobId, input.stage, input.from, input.to);
        todo = runs.filter((r) => !stored.has(r));
        attemptId = await startBatchAttempt(db, {
          jobId: input.jobId, stage: input.stage, from: input.from, to: input.to, attempt: ctx.info.attempt, worker, skipped: runs.length - todo.length, computing: todo.length, loadedBars: loaded,
        });
        let sliceStart = performance.now();
        for (const run of stageRuns(bars, job.scan, input.stage, todo)) {
          out.push(run);
          if (performance.now() - sliceStart >= SLICE_MS) {
            ctx.heartbeat({ done: out.length, of: todo.length });
            await yieldToEventLoop();
            if (ctx.cancellationSignal.aborted) throw new CancelledFailure('stress scan cancelled');
            sliceStart = performance.now();
          }
        }
      } finally {
        release(); // the next batch computes while this one stores
      }

      const inserted = await inTransaction(db, async (tx) => {
        const n = input.stage === 'cells' ? await insertCells(tx, input.jobId, out.map(cellOf)) : await insertRuns(tx, input.jobId, input.stage, out.map(storedRunOf));
        await addRunsDone(tx, input.jobId, n);
        await finishBatchAttempt(tx, attemptId, n);
        return n;
      });
      return { computed: todo.length, skipped: runs.length - todo.length, inserted };
    },

    /** Ranks the cells, runs what comes after the batches (walk-forward test runs, the base run) and stores the document. */
    async finishStressScan(input: { jobId: string }): Promise<StressScanSummary> {
      const ctx = Context.current();
      const job = await jobs.job(input.jobId);
      const { bars } = await jobs.bars(job, () => ctx.heartbeat({ phase: 'loading bars' }));
      return finishScan(db, job, bars, () => ctx.heartbeat({ phase: 'finishing' }));
    },
  };
}

/** The runs of a batch, refused unless they lie inside a stage of the job's plan (a hand-started workflow could ask anything). */
function batchRuns(job: ScanJob, input: StressScanBatchInput): number[] {
  const stage = job.plan.stages.find((s) => s.stage === input.stage);
  const ok = stage && Number.isInteger(input.from) && Number.isInteger(input.to) && input.from >= 0 && input.from < input.to && input.to <= stage.runs && input.to - input.from <= stage.batchRuns;
  if (!ok) throw ApplicationFailure.nonRetryable(`runs ${input.from}..${input.to} of stage ${input.stage} are not a batch of this scan's plan`, ErrorType.InvalidInput);
  return Array.from({ length: input.to - input.from }, (_, k) => input.from + k);
}

function cellOf(r: StageRun) {
  if (r.stage !== 'cells') throw new Error(`a ${r.stage} run among cells`);
  return r.cell;
}

function storedRunOf(r: StageRun) {
  switch (r.stage) {
    case 'train': {
      const { objective, eligible, cell, params: _params, ...result } = r.cell;
      return { run: r.run, fold: r.fold, cell, objective, eligible, result };
    }
    case 'paths':
      return { run: r.run, result: r.path };
    case 'shocks':
      return { run: r.run, result: r.shock };
    default:
      throw new Error('cells are stored by insertCells');
  }
}
