import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import { ApiError, type ApiClient } from './api-client';
import { TERMINAL, type JobDetail, type TradesPage } from './types';

const POLL_MS = 500;

/** Shows progress on stderr: a bar on a terminal, otherwise a plain line per phase change or 10 % step. */
class ProgressView {
  private bar?: cliProgress.SingleBar;
  private lastLine = '';

  constructor(private readonly enabled: boolean) {}

  update(job: JobDetail): void {
    if (!this.enabled) return;
    const { phase, barsDone, barsTotal, fraction } = job.progress;
    if (process.stderr.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: ' {phase} |{bar}| {percentage}% | {value}/{total} bars', hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(Math.max(barsTotal, 1), barsDone, { phase });
      }
      this.bar.setTotal(Math.max(barsTotal, 1));
      this.bar.update(barsDone, { phase });
      return;
    }
    const line = `${phase} ${Math.floor(fraction * 10) * 10}%`;
    if (line !== this.lastLine) {
      process.stderr.write(`backtest ${job.id}: ${phase}${barsTotal ? ` ${barsDone}/${barsTotal} bars (${Math.round(fraction * 100)}%)` : ''}\n`);
      this.lastLine = line;
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

export interface WatchOutcome<T = JobDetail> {
  job: T;
  /** the user pressed Ctrl-C and a cancel was requested */
  interrupted: boolean;
}

/** What `watch` polls: a job's URL, how to cancel it, how to show it. */
export interface Watched<T extends { status: JobDetail['status'] }> {
  /** "backtest", "stress scan": for the messages */
  kind: string;
  id: string;
  /** GET this (and the query) for the job */
  path: string;
  query?: Record<string, string | number>;
  /** POST here to cancel */
  cancelPath: string;
  view: { update(job: T): void; stop(): void };
}

/**
 * Polls a job every 500 ms until it ends. The first Ctrl-C asks the API to cancel and keeps waiting for the
 * outcome; a second one stops waiting (exit 130).
 */
export async function watch<T extends { status: JobDetail['status'] }>(client: ApiClient, w: Watched<T>): Promise<WatchOutcome<T>> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) {
      w.view.stop();
      process.stderr.write(`stopped waiting; the ${w.kind} may still be cancelling\n`);
      process.exit(130);
    }
    interrupted = true;
    w.view.stop();
    process.stderr.write(`cancelling ${w.kind} ${w.id} (Ctrl-C again to stop waiting)\n`);
    client.post(w.cancelPath).catch((err: Error) => {
      if (!(err instanceof ApiError && err.status === 409)) process.stderr.write(`cancel failed: ${err.message}\n`);
    });
  };
  process.on('SIGINT', onSigint);
  try {
    for (;;) {
      const job = await client.get<T>(w.path, w.query);
      if (!interrupted) w.view.update(job);
      if (TERMINAL.includes(job.status)) {
        w.view.stop();
        return { job, interrupted };
      }
      await sleep(POLL_MS);
    }
  } finally {
    w.view.stop();
    process.off('SIGINT', onSigint);
  }
}

/** Watches a backtest (GET /v1/backtests/:id) with its bars progress on stderr. */
export function watchJob(client: ApiClient, id: string, opts: { progress: boolean }): Promise<WatchOutcome> {
  return watch<JobDetail>(client, { kind: 'backtest', id, path: `/v1/backtests/${id}`, cancelPath: `/v1/backtests/${id}/cancel`, view: new ProgressView(opts.progress) });
}

/** Every fill of a job, page by page. */
export async function fetchAllTrades(client: ApiClient, id: string): Promise<TradesPage['trades']> {
  const trades: TradesPage['trades'] = [];
  for (let offset = 0; ; ) {
    const page = await client.get<TradesPage>(`/v1/backtests/${id}/trades`, { limit: 1000, offset });
    trades.push(...page.trades);
    offset += page.trades.length;
    if (page.trades.length === 0 || offset >= page.total) return trades;
  }
}
