import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { BacktestRun } from '../domain/backtest/engine';
import { parseBacktestSettings } from '../domain/backtest/settings';
import { loadBarColumns } from '../db/sql/bars';
import { deleteBacktestTrades, insertBacktestTrades, upsertBacktestResult } from '../db/sql/backtest-results';
import { inTransaction } from '../db/sql/queryable';
import { ErrorType } from '../workflows/errors';
import { backtestProgressSignal } from '../workflows/backtest/messages';
import type { BacktestSummary, BacktestWorkflowInput } from '../workflows/backtest/messages';
import type { CpuDeps } from './ports';

/** Bars simulated between two heartbeats: a few milliseconds of work, so cancels and heartbeats are prompt. */
const CHUNK_BARS = 50_000;
/** Progress signals go into history; send few of them. */
const PROGRESS_SIGNAL_MIN_MS = 1_000;
const PROGRESS_SIGNAL_MIN_STEP = 0.05;

/** Backtest compute for the CPU queue. Idempotent: a retry recomputes and replaces the job's trades and result. */
export function createBacktestActivities({ db, workflows }: CpuDeps) {
  return {
    /** Loads the bars itself, runs the engine in heartbeated chunks, persists trades, equity curve and metrics. */
    async runBacktest(input: BacktestWorkflowInput): Promise<BacktestSummary> {
      const ctx = Context.current();
      const settings = parseSettingsOrFail(input.settings);
      const execution = ctx.info.workflowExecution;
      let lastSignalAt = 0;
      let lastSignalFraction = -1;
      const reportProgress = async (barsDone: number, barsTotal: number) => {
        ctx.heartbeat({ barsDone, barsTotal });
        const fraction = barsTotal ? barsDone / barsTotal : 0;
        const now = Date.now();
        if (fraction >= 1 || (now - lastSignalAt >= PROGRESS_SIGNAL_MIN_MS && fraction - lastSignalFraction >= PROGRESS_SIGNAL_MIN_STEP)) {
          lastSignalAt = now;
          lastSignalFraction = fraction;
          // Progress is best-effort: a failed signal must not fail the backtest.
          if (!execution) return;
          await workflows.signal(execution.workflowId, execution.runId, backtestProgressSignal.name, { barsDone, barsTotal }).catch((err: Error) => {
            ctx.log.warn('progress signal failed', { error: err.message });
          });
        }
      };

      const bars = await loadBarColumns(db, input, { onProgress: () => ctx.heartbeat({ phase: 'loading' }) });
      if (bars.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `no bars for ${input.symbol} ${input.timeframe}${input.from || input.to ? ` between ${input.from ?? '-'} and ${input.to ?? '-'}` : ''}; import some first`,
          ErrorType.NoBars,
        );
      }

      const run = new BacktestRun(bars, settings);
      while (!run.done) {
        run.runUntil(Math.min(run.barsDone + CHUNK_BARS, bars.length));
        await reportProgress(run.barsDone, bars.length);
        await yieldToEventLoop(); // lets the heartbeat flush and a cancel arrive
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('backtest cancelled');
      }
      const result = run.finish();

      await inTransaction(db, async (tx) => {
        await deleteBacktestTrades(tx, input.jobId);
        await insertBacktestTrades(tx, input.jobId, result.trades);
        await upsertBacktestResult(tx, input.jobId, result);
      });
      return {
        bars: result.bars,
        trades: result.trades.length,
        finalEquity: result.finalEquity,
        cash: result.cash,
        position: result.position,
        metrics: result.metrics,
      };
    },
  };
}

function parseSettingsOrFail(raw: unknown) {
  try {
    return parseBacktestSettings(raw);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`invalid backtest settings: ${(err as Error).message}`, ErrorType.InvalidInput);
  }
}
