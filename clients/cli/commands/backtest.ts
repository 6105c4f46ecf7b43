import { Option, type Command } from 'commander';
import { TIMEFRAMES } from '../../../domain/bars';
import { INTRABAR_POLICIES, STRATEGY_NAMES } from '../../../domain/backtest/types';
import type { ApiClient } from '../api-client';
import { CliError, usageError } from '../errors';
import { keyValues, resultSummary, table } from '../format';
import { runLocalBacktest, toJson } from '../local-backtest';
import { clientFrom, jsonObjectArg, numberArg, print, type GlobalOptions } from '../options';
import type { Created, Job, JobDetail } from '../types';
import { fetchAllTrades, watchJob } from '../watch';

export interface BacktestFlags {
  local?: boolean;
  csv?: string;
  tz?: string;
  strategy: string;
  params?: Record<string, unknown>;
  symbol?: string;
  timeframe: string;
  from?: string;
  to?: string;
  cash: number;
  size?: number;
  equityFraction?: number;
  commission?: number;
  commissionPerOrder?: number;
  slippageBps?: number;
  short?: boolean;
  tp?: number;
  trail?: number;
  sl?: number;
  intrabarPolicy?: string;
  json?: boolean;
  wait: boolean;
}

/** The settings part of a backtest request, from the flags (only what was given; the rest takes the defaults). */
export function settingsFromFlags(f: BacktestFlags): Record<string, unknown> {
  const s: Record<string, unknown> = { strategy: f.strategy, initialCash: f.cash };
  if (f.size !== undefined) s.quantity = f.size;
  if (f.equityFraction !== undefined) s.sizing = { mode: 'equity-fraction', fraction: f.equityFraction };
  if (f.params) s.params = f.params;
  if (f.commission !== undefined) s.commissionRate = f.commission;
  if (f.commissionPerOrder !== undefined) s.commissionPerOrder = f.commissionPerOrder;
  if (f.slippageBps !== undefined) s.slippageBps = f.slippageBps;
  if (f.short) s.allowShort = true;
  if (f.tp !== undefined) s.takeProfitPct = f.tp;
  if (f.sl !== undefined) s.stopLossPct = f.sl;
  if (f.trail !== undefined) s.trailingStopPct = f.trail;
  if (f.intrabarPolicy !== undefined) s.intrabarPolicy = f.intrabarPolicy;
  return s;
}

async function runLocal(f: BacktestFlags): Promise<void> {
  if (!f.csv) throw usageError('--local needs --csv <file>');
  const result = await runLocalBacktest({
    csv: f.csv,
    tz: f.tz,
    from: f.from,
    to: f.to,
    symbol: f.symbol,
    timeframe: f.timeframe,
    settings: settingsFromFlags(f),
  });
  if (f.json) return print(toJson(result));
  print(
    keyValues([
      ['data', `${result.data.file}: ${result.data.rows} bars (${result.data.rejected} rejected rows, ${result.data.outliers} of them price outliers, ${result.data.future} dated in the future), ${result.data.firstTs} .. ${result.data.lastTs}`],
      ['window', `${f.from ?? 'start'} .. ${f.to ?? 'end'}`],
    ]),
  );
  print(resultSummary(result));
}

async function runRemote(client: ApiClient, f: BacktestFlags): Promise<void> {
  if (!f.symbol) throw usageError('--symbol is required (or run in-process with --local --csv <file>)');
  if (f.tz) throw usageError('--tz applies to --local runs only (imports take --tz)');
  const body = { symbol: f.symbol, timeframe: f.timeframe, ...(f.from ? { from: f.from } : {}), ...(f.to ? { to: f.to } : {}), ...settingsFromFlags(f) };
  const created = await client.post<Created>('/v1/backtests', body);
  if (!f.wait) {
    if (f.json) return print(JSON.stringify(created));
    print(keyValues([['backtest', created.id], ['status', created.status], ['follow', `npx durable-trader backtests show ${created.id}`], ['temporal', created.links.temporalUi]]));
    return;
  }
  if (!f.json) process.stderr.write(`backtest ${created.id} queued (${created.links.temporalUi})\n`);
  const { job, interrupted } = await watchJob(client, created.id, { progress: true });
  await report(client, job, Boolean(f.json));
  if (job.status === 'completed') return;
  if (interrupted) throw new CliError(`backtest ${job.id} ${job.status}`, 130);
  throw new CliError(`backtest ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`);
}

/** Prints a finished (or any) job: a summary, or with --json one object with the result and every fill. */
export async function report(client: ApiClient, job: JobDetail, json: boolean): Promise<void> {
  if (json) {
    const { result, progress: _progress, ...rest } = job;
    const trades = result ? await fetchAllTrades(client, job.id) : [];
    print(JSON.stringify(result ? { ...rest, ...result, tradeCount: result.trades, trades } : rest));
    return;
  }
  print(
    keyValues([
      ['backtest', job.id],
      ['status', job.status],
      ['series', `${job.symbol} ${job.timeframe} ${job.from ?? 'start'} .. ${job.to ?? 'end'}`],
      ['requested by', `${job.requestedBy} at ${job.createdAt}`],
      ...(job.error ? ([['error', job.error]] as Array<[string, unknown]>) : []),
      ...(job.result ? [] : ([['progress', `${job.progress.phase} ${Math.round(job.progress.fraction * 100)}%`]] as Array<[string, unknown]>)),
      ['temporal', job.links.temporalUi],
    ]),
  );
  if (job.result) print(resultSummary(job.result));
}

/** `backtest` (through the API, or in-process with --local) and `backtests list|show|cancel`. */
export function registerBacktestCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backtest')
    .description('run a backtest through the API (waits and shows progress), or in-process with --local --csv FILE')
    .option('--local', 'run the engine in this process on --csv, with no server')
    .option('--csv <file>', 'CSV of bars for --local')
    .option('--tz <zone>', 'IANA time zone of the CSV times and of date-only --from/--to (--local; default UTC)')
    .addOption(new Option('--strategy <name>', 'strategy').choices([...STRATEGY_NAMES]).default('sma-cross'))
    .option('--params <json>', 'strategy parameters as JSON, e.g. \'{"fast":10,"slow":30}\'', jsonObjectArg('--params'))
    .option('--symbol <symbol>', 'symbol of the stored bars (required without --local)')
    .addOption(new Option('--timeframe <tf>', 'bar timeframe').choices([...TIMEFRAMES]).default('1d'))
    .option('--from <date>', 'first day (inclusive), YYYY-MM-DD or ISO date-time')
    .option('--to <date>', 'last day (inclusive: the whole day), YYYY-MM-DD or ISO date-time')
    .option('--cash <amount>', 'initial cash', numberArg('--cash'), 10_000)
    .option('--size <qty>', 'fixed quantity per entry (default: sizing by --equity-fraction)', numberArg('--size'))
    .option('--equity-fraction <f>', 'whole shares worth this fraction of equity per entry (default 0.95)', numberArg('--equity-fraction'))
    .option('--commission <rate>', 'commission as a fraction of notional (0.001 = 0.1 %)', numberArg('--commission'))
    .option('--commission-per-order <amount>', 'fixed commission per order', numberArg('--commission-per-order'))
    .option('--slippage-bps <bps>', 'adverse slippage on every fill, in basis points', numberArg('--slippage-bps'))
    .option('--short', 'allow short positions')
    .option('--tp <fraction>', 'take-profit distance as a fraction of the entry price (0.05 = 5 %)', numberArg('--tp'))
    .option('--sl <fraction>', 'stop-loss distance as a fraction of the entry price (0.02 = 2 %)', numberArg('--sl'))
    .option('--trail <fraction>', 'trailing stop distance as a fraction of the best price since the entry (0.03 = 3 %)', numberArg('--trail'))
    .addOption(new Option('--intrabar-policy <policy>', 'which of take-profit/stop-loss fills first when one bar touches both').choices([...INTRABAR_POLICIES]))
    .option('--json', 'print one JSON object (result, metrics and every fill)')
    .option('--no-wait', 'print the job id and return without waiting (API runs)')
    .action(async (f: BacktestFlags) => {
      if (f.local || f.csv) return runLocal(f);
      return runRemote(clientFrom(globals()), f);
    });

  const backtests = program.command('backtests').description('list, show and cancel backtest jobs');

  backtests
    .command('list')
    .description('recent backtest jobs, newest first')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 20)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ jobs: Job[] }>('/v1/backtests', { limit: opts.limit, offset: opts.offset });
      if (opts.json) return print(JSON.stringify(r, null, 2));
      print(
        table(
          r.jobs.map((j) => ({
            id: j.id,
            status: j.status,
            symbol: j.symbol,
            tf: j.timeframe,
            strategy: j.settings.strategy,
            by: j.requestedBy,
            created: j.createdAt,
          })),
        ),
      );
    });

  backtests
    .command('show')
    .description('one backtest: status, progress and result')
    .argument('<id>', 'backtest id')
    .option('--json', 'print one JSON object (with every fill when completed)')
    .action(async (id: string, opts: { json?: boolean }) => {
      const client = clientFrom(globals());
      await report(client, await client.get<JobDetail>(`/v1/backtests/${encodeURIComponent(id)}`), Boolean(opts.json));
    });

  backtests
    .command('cancel')
    .description('ask a queued or running backtest to stop')
    .argument('<id>', 'backtest id')
    .action(async (id: string) => {
      const r = await clientFrom(globals()).post<{ id: string; status: string }>(`/v1/backtests/${encodeURIComponent(id)}/cancel`);
      print(`backtest ${r.id}: ${r.status}`);
    });
}
