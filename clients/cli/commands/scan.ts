import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { screenBars } from '../../../domain/bar-screen';
import { sliceBars, TIMEFRAMES, type BarColumns, type Timeframe } from '../../../domain/bars';
import { timeframeMs } from '../../../domain/calendar/calendar';
import { INTRABAR_POLICIES, STRATEGY_NAMES } from '../../../domain/backtest/types';
import { parseOhlcvCsv } from '../../../domain/csv';
import { ScanSpecError } from '../../../domain/scan/errors';
import { OBJECTIVES } from '../../../domain/scan/objective';
import { prepareScan } from '../../../domain/scan/prepare';
import { runScan, type ScanResult } from '../../../domain/scan/scan';
import { MC_METHODS, SCAN_TYPES } from '../../../domain/scan/spec';
import { CliError, issueLines, usageError } from '../errors';
import { parseBound, toJson } from '../local-backtest';
import { clientFrom, jsonObjectArg, numberArg, print, type GlobalOptions } from '../options';
import { runRemoteScan } from '../scan-remote';
import { scanReport } from '../scan-report';
import { settingsFromFlags, type BacktestFlags } from './backtest';

export interface ScanFlags extends BacktestFlags {
  type: string;
  grid?: Record<string, unknown>;
  constraint: string[];
  objective: string;
  maxDrawdown?: number;
  walkForward?: Record<string, unknown>;
  samples?: number;
  seed?: number;
  paths?: number;
  methods?: string;
  blockBars?: number;
  lossThreshold?: number;
  crises?: string;
  shocks?: unknown[];
  maxCells?: number;
  top: number;
}

/** The scan request (domain/scan/spec.ts) from the flags; the backtest flags make its settings. */
export function specFromFlags(f: ScanFlags): Record<string, unknown> {
  const spec: Record<string, unknown> = { type: f.type, settings: settingsFromFlags(f), objective: f.objective };
  if (f.grid) spec.grid = f.grid;
  if (f.constraint.length) spec.constraints = f.constraint;
  if (f.maxDrawdown !== undefined) spec.maxDrawdown = f.maxDrawdown;
  if (f.walkForward) spec.walkForward = f.walkForward;
  if (f.samples !== undefined) spec.sampler = { kind: 'random', samples: f.samples, seed: f.seed ?? 1 };
  if (f.maxCells !== undefined) spec.maxCells = f.maxCells;
  if (f.type === 'monte_carlo') {
    const mc: Record<string, unknown> = {};
    if (f.paths !== undefined) mc.paths = f.paths;
    if (f.seed !== undefined) mc.seed = f.seed;
    if (f.methods !== undefined) mc.methods = f.methods.split(',').map((m) => m.trim());
    if (f.blockBars !== undefined) mc.blockBars = f.blockBars;
    if (f.lossThreshold !== undefined) mc.lossThreshold = f.lossThreshold;
    spec.monteCarlo = mc;
  }
  if (f.type === 'black_swan') {
    const bs: Record<string, unknown> = {};
    if (f.crises !== undefined) bs.crises = f.crises === 'all' ? 'all' : f.crises.split(',').map((c) => c.trim());
    if (f.shocks !== undefined) bs.shocks = f.shocks;
    spec.blackSwan = bs;
  }
  return spec;
}

/** The CSV's bars with open times in [--from, --to] (a view, no copy). */
async function loadBars(f: ScanFlags): Promise<{ bars: BarColumns; rows: number; rejected: number }> {
  const tz = f.tz ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw usageError(`--tz ${tz} is not an IANA time zone (e.g. America/New_York, UTC)`);
  }
  const fromMs = f.from ? parseBound(f.from, 'from', tz) : -Infinity;
  const toMs = f.to ? parseBound(f.to, 'to', tz) : Infinity;
  if (fromMs > toMs) throw usageError(`--from ${f.from} is after --to ${f.to}`);
  let text: string;
  try {
    text = await readFile(f.csv!, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${f.csv}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`);
  }
  let csv;
  try {
    csv = parseOhlcvCsv(text, { timeZone: tz });
  } catch (err) {
    throw new CliError(`${f.csv}: ${(err as Error).message}`);
  }
  // the import's checks, as backtest --local applies them: bars dated after the bar now forming, price outliers
  const tf = (TIMEFRAMES as readonly string[]).includes(f.timeframe) ? (f.timeframe as Timeframe) : '1d';
  const screened = screenBars(csv.bars, csv.lines, { notAfter: Date.now() + timeframeMs(tf) });
  const rejected = csv.rejected + screened.future + screened.outliers;
  const all = screened.bars;
  if (all.length === 0) throw new CliError(`${f.csv}: no valid bars (${rejected} rejected)`);
  let lo = 0;
  while (lo < all.length && all.ts[lo] < fromMs) lo++;
  let hi = lo;
  while (hi < all.length && all.ts[hi] <= toMs) hi++;
  if (hi === lo) throw new CliError(`${f.csv}: no bars between ${f.from ?? 'the start'} and ${f.to ?? 'the end'}`);
  return { bars: sliceBars(all, lo, hi), rows: all.length, rejected };
}

/** A progress bar on stderr when it is a terminal; nothing otherwise. */
function progressBar(): { update: (done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: ' scan |{bar}| {percentage}% | {value}/{total} runs | eta {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.setTotal(total);
      bar.update(done);
    },
    stop: () => started && bar.stop(),
  };
}

async function runLocalScan(f: ScanFlags): Promise<void> {
  if (!f.csv) throw usageError('--local needs --csv <file>');
  const scan = asUsage(() => prepareScan(specFromFlags(f)));
  const data = await loadBars(f);
  const bar = progressBar();
  let result: ScanResult;
  try {
    result = asUsage(() => runScan(data.bars, scan, bar.update));
  } finally {
    bar.stop();
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  const doc = {
    symbol: f.symbol ?? null,
    timeframe: f.timeframe ?? null,
    from: f.from ?? null,
    to: f.to ?? null,
    data: { file: f.csv, rows: data.rows, rejected: data.rejected, firstTs: iso(data.bars.ts[0]), lastTs: iso(data.bars.ts[data.bars.length - 1]) },
    ...result,
  };
  if (f.json) return print(toJson(doc));
  print(scanReport(doc, f.top));
}

/** Runs fn, turning a refused scan request into a usage error (exit 2) with one line per issue. */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ScanSpecError) throw usageError('invalid scan', issueLines(err.issues));
    throw err;
  }
}

function jsonArrayArg(what: string) {
  return (value: string): unknown[] => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`${what} must be JSON, e.g. '[{"kind":"gap","pct":0.2,"at":"2008-10-01"}]'.`);
    }
    if (!Array.isArray(parsed)) throw new InvalidArgumentError(`${what} must be a JSON array.`);
    return parsed;
  };
}

/** The stored series and window a scan through the API runs on. */
function remoteBody(f: ScanFlags): Record<string, unknown> {
  if (f.tz) throw usageError('--tz applies to --local runs only (imports take --tz)');
  return { symbol: f.symbol, timeframe: f.timeframe, ...(f.from ? { from: f.from } : {}), ...(f.to ? { to: f.to } : {}), ...specFromFlags(f) };
}

/**
 * `scan`: parameter scans, optimization (with walk-forward), Monte Carlo and black-swan tests, through the API on
 * stored bars (durable: the stress-scan workflow), or in process with --local --csv FILE.
 */
export function registerScanCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('scan')
    .description('a stress scan (parameter grid, optimization with walk-forward, Monte Carlo, black swan) through the API on --symbol, or in process with --local --csv FILE')
    .option('--local', 'run in this process on --csv, with no server')
    .option('--csv <file>', 'CSV of bars')
    .option('--tz <zone>', 'IANA time zone of the CSV times and of date-only --from/--to (default UTC)')
    .addOption(new Option('--type <type>', 'kind of scan').choices([...SCAN_TYPES]).default('param_scan'))
    .addOption(new Option('--strategy <name>', 'strategy').choices([...STRATEGY_NAMES]).default('sma-cross'))
    .option('--params <json>', 'base strategy parameters every cell starts from (monte_carlo, black_swan: the parameters)', jsonObjectArg('--params'))
    .option('--grid <json>', 'parameters to scan, each a list or a range: \'{"period":[5,6,7]}\', \'{"period":{"from":5,"to":44,"step":1}}\'', jsonObjectArg('--grid'))
    .option('--constraint <expr>', 'keep only cells where this holds, e.g. "fast < slow" (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(new Option('--objective <name>', 'what ranks the cells (higher is better)').choices([...OBJECTIVES]).default('net-profit'))
    .option('--max-drawdown <fraction>', 'cells with a larger max drawdown rank last (0.25 = 25 %)', numberArg('--max-drawdown'))
    .option('--walk-forward <json>', 'optimization: \'{"trainBars":500,"testBars":250,"stepBars":250,"anchored":false,"warmupBars":0}\'', jsonObjectArg('--walk-forward'))
    .option('--samples <n>', 'optimization: random search over this many cells instead of the whole grid', numberArg('--samples', { min: 1, integer: true }))
    .option('--seed <n>', 'seed of random search and Monte Carlo (default 1)', numberArg('--seed', { min: 0, integer: true }))
    .option('--paths <n>', 'monte_carlo: paths per method (default 1000)', numberArg('--paths', { min: 1, integer: true }))
    .option('--methods <list>', `monte_carlo: comma-separated, of ${MC_METHODS.join(', ')} (default all)`)
    .option('--block-bars <n>', 'monte_carlo: block length of the bar bootstrap (default 20)', numberArg('--block-bars', { min: 1, integer: true }))
    .option('--loss-threshold <fraction>', 'monte_carlo: report the probability of losing more than this (default 0.1)', numberArg('--loss-threshold'))
    .option('--crises <ids>', 'black_swan: comma-separated crisis windows, or all (default)')
    .option('--shocks <json>', 'black_swan: \'[{"kind":"gap","pct":0.2,"at":"2008-10-01"},{"kind":"volatility","factor":3,"from":..,"to":..},{"kind":"slippage","factor":5}]\'', jsonArrayArg('--shocks'))
    .option('--max-cells <n>', 'refuse grids larger than this (default 100000)', numberArg('--max-cells', { min: 1, integer: true }))
    .option('--symbol <symbol>', 'the stored series to scan (required without --local; with --local, for the record)')
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
    .addOption(new Option('--intrabar-policy <policy>', 'which of take-profit/stop-loss fills first when one bar touches both').choices([...INTRABAR_POLICIES]))
    .option('--top <n>', 'cells in the table (text output)', numberArg('--top', { min: 1, integer: true }), 20)
    .option('--json', 'print one JSON document (cells, and folds / monteCarlo / blackSwan by type)')
    .option('--no-wait', 'through the API: print the scan id and return without waiting')
    .action(async (f: ScanFlags) => {
      if (f.local || f.csv) return runLocalScan(f);
      const body = remoteBody(f);
      return runRemoteScan(clientFrom(globals()), body, { json: f.json, wait: f.wait, top: f.top });
    });
}
