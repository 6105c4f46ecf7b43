import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { TIMEFRAMES } from '../../../domain/bars';
import type { ApiClient } from '../api-client';
import { CliError } from '../errors';
import { keyValues, table } from '../format';
import { clientFrom, print, type GlobalOptions } from '../options';

interface Backfill {
  id: string;
  workflowId: string;
  provider: string;
  symbol: string;
  timeframe: string;
  from: string;
  to: string;
  mode: string;
  status: 'queued' | 'running' | 'completed' | 'failed';
  expected: number | null;
  fetched: number;
  stored: number;
  replaced: number;
  invalid: number;
  error: string | null;
  progress?: { done: number; expected: number; fraction: number; source: string };
}

const POLL_MS = 500;

/** `market-data backfill|backfills|feeds|quality|events|report`. */
export function registerMarketDataCommands(program: Command, globals: () => GlobalOptions): void {
  const md = program.command('market-data').description('live market data: backfills, feeds, quality levels, events and the daily quality report');

  md.command('backfill')
    .description('fetch a range of one series from a provider (incremental: only the missing bars; full: the whole range again), with progress')
    .requiredOption('--symbol <symbol>', 'ticker symbol, e.g. AAPL')
    .requiredOption('--from <date>', 'inclusive start: ISO date or date-time with zone')
    .requiredOption('--to <date>', 'inclusive end: ISO date or date-time with zone')
    .addOption(new Option('--provider <name>', 'market-data provider').choices(['alpaca', 'replay']).default('alpaca'))
    .addOption(new Option('--timeframe <tf>', 'bar timeframe').choices([...TIMEFRAMES]).default('1m'))
    .addOption(new Option('--mode <mode>', 'incremental or full').choices(['incremental', 'full']).default('incremental'))
    .option('--no-wait', 'print the job and return at once')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { symbol: string; from: string; to: string; provider: string; timeframe: string; mode: string; wait: boolean; json?: boolean }) => {
      const client = clientFrom(globals());
      const started = await client.post<Backfill>('/v1/market-data/backfills', { provider: opts.provider, symbol: opts.symbol, timeframe: opts.timeframe, from: opts.from, to: opts.to, mode: opts.mode });
      const job = opts.wait ? await follow(client, started.id, !opts.json) : started;
      if (opts.json) print(JSON.stringify(job, null, 2));
      else printBackfill(job);
      if (job.status === 'failed') throw new CliError(`backfill ${job.id} failed: ${job.error ?? 'unknown error'}`);
    });

  md.command('backfills')
    .description('backfill jobs, newest first')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { symbol?: string; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ backfills: Backfill[] }>('/v1/market-data/backfills', opts.symbol ? { symbol: opts.symbol } : undefined);
      if (opts.json) print(JSON.stringify(r, null, 2));
      else print(table(r.backfills.map((b) => ({ id: b.id, series: `${b.symbol} ${b.timeframe}`, provider: b.provider, mode: b.mode, status: b.status, stored: b.stored, range: `${b.from} .. ${b.to}` }))));
    });

  md.command('feeds')
    .description('the feeds the platform runs and their watermark (the last bar close stored and cached)')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ feeds: Array<Record<string, unknown>> }>('/v1/market-data/feeds');
      if (opts.json) print(JSON.stringify(r, null, 2));
      else print(table(r.feeds, ['provider', 'timeframe', 'watermark', 'workflowId']));
    });

  md.command('quality')
    .description('quality level per series on a trading day (missing > 5 % or delay > 5 min WARNING; > 20 % or > 10 min ERROR)')
    .requiredOption('--day <YYYY-MM-DD>', 'trading day (exchange date)')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { day: string; symbol?: string; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ series: Array<Record<string, unknown>> }>('/v1/market-data/quality', { day: opts.day, ...(opts.symbol ? { symbol: opts.symbol } : {}) });
      if (opts.json) print(JSON.stringify(r, null, 2));
      else print(table(r.series, ['symbol', 'timeframe', 'provider', 'level', 'expected', 'received', 'invalid', 'gaps', 'late', 'maxDelayMs']));
    });

  md.command('events')
    .description('gaps found, backfills done, invalid bars skipped, late and missing bars, level changes; newest first')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { symbol?: string; limit: string; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ events: Array<Record<string, unknown>> }>('/v1/market-data/events', { limit: opts.limit, ...(opts.symbol ? { symbol: opts.symbol } : {}) });
      if (opts.json) print(JSON.stringify(r, null, 2));
      else print(table(r.events, ['at', 'symbol', 'timeframe', 'kind', 'from', 'to', 'bars']));
    });

  md.command('report')
    .description("the daily quality report: the stored one of --day, or with --build a new one now (stored and notified)")
    .option('--day <YYYY-MM-DD>', 'trading day (default with --build: the last closed one)')
    .option('--build', 'build it now')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { day?: string; build?: boolean; json?: boolean }) => {
      const client = clientFrom(globals());
      if (!opts.build && !opts.day) throw new CliError('give --day, or --build for a new report');
      const r = opts.build ? await client.post<Record<string, unknown>>('/v1/market-data/reports', opts.day ? { day: opts.day } : {}) : await client.get<Record<string, unknown>>(`/v1/market-data/reports/${encodeURIComponent(opts.day!)}`);
      if (opts.json) print(JSON.stringify(r, null, 2));
      else print(keyValues(['day', 'series', 'expected', 'received', 'successRate', 'invalidSkipped', 'gaps', 'late', 'maxDelayMs'].map((k) => [k, String(r[k] ?? '-')] as [string, string])));
    });
}

/** Polls the job until it ends: a progress bar on a terminal, else a line per 10 %. */
async function follow(client: ApiClient, id: string, show: boolean): Promise<Backfill> {
  let bar: cliProgress.SingleBar | undefined;
  let lastStep = -1;
  try {
    for (;;) {
      const job = await client.get<Backfill>(`/v1/market-data/backfills/${id}`);
      const p = job.progress ?? { done: 0, expected: 0, fraction: 0, source: 'job' };
      if (show && process.stderr.isTTY) {
        bar ??= new cliProgress.SingleBar({ stream: process.stderr, format: ` backfill ${job.symbol} |{bar}| {percentage}% | {value}/{total} bars`, hideCursor: true }, cliProgress.Presets.shades_classic);
        if (!bar.isActive) bar.start(Math.max(p.expected, 1), p.done);
        bar.setTotal(Math.max(p.expected, 1));
        bar.update(p.done);
      } else if (show && Math.floor(p.fraction * 10) !== lastStep) {
        lastStep = Math.floor(p.fraction * 10);
        process.stderr.write(`backfill ${job.id}: ${job.status} ${p.done}/${p.expected} bars (${Math.round(p.fraction * 100)}%)\n`);
      }
      if (job.status === 'completed' || job.status === 'failed') return job;
      await sleep(POLL_MS);
    }
  } finally {
    bar?.stop();
  }
}

function printBackfill(b: Backfill): void {
  print(
    keyValues([
      ['backfill', b.id],
      ['series', `${b.symbol} ${b.timeframe} (${b.provider}, ${b.mode})`],
      ['range', `${b.from} .. ${b.to}`],
      ['status', b.status],
      ['expected', b.expected ?? '-'],
      ['stored', b.stored],
      ['replaced', b.replaced],
      ['invalid skipped', b.invalid],
      ['workflow', b.workflowId],
      ...(b.error ? [['error', b.error] as [string, string]] : []),
    ]),
  );
}
