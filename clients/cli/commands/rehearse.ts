import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Pool } from 'pg';
import { paperBrokerPort } from '../../../brokers';
import { STRATEGY_NAMES } from '../../../domain/backtest/types';
import { nyseHolidays, sessionOn, type TradingSession } from '../../../domain/calendar';
import { DEPLOYMENT_TIMEFRAMES, PARTIAL_FILL_POLICIES, DeploymentSpecSchema, type DeploymentSpec } from '../../../domain/deployment/spec';
import { exchangeTime } from '../../../domain/eod/policy';
import { CliError, issueLines, usageError } from '../errors';
import { jsonObjectArg, numberArg, print, printJson } from '../options';
import { approvalRuleArg, DEFAULT_APPROVAL_RULE, type ApprovalRule } from '../rehearse/approval-rule';
import { readSessionBars, storeSessionBars, type BarSource } from '../rehearse/bars';
import { openRehearsalInfra, platformServers } from '../rehearse/infra';
import { collectReport, reportText } from '../rehearse/report';
import { rehearseSession, type RehearsalProgress } from '../rehearse/run';

interface RehearseFlags {
  date: string;
  strategy: string;
  params?: Record<string, unknown>;
  symbols?: string[];
  symbol?: string;
  csv?: string;
  tz: string;
  timeframe: (typeof DEPLOYMENT_TIMEFRAMES)[number];
  account: string;
  cash: number;
  quantity?: number;
  short?: boolean;
  risk?: Record<string, unknown>;
  approval?: Record<string, unknown>;
  exits?: Record<string, unknown>;
  partialFills?: string;
  eodMargin: number;
  approve: ApprovalRule;
  keep?: boolean;
  json?: boolean;
}

const symbolList = (v: string) => v.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);

/** The NYSE session of --date, or a usage error saying why there is none (weekend, holiday by name, out of range). */
function sessionOf(date: string): TradingSession {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
    throw usageError(`--date must be a date such as 2026-11-27, got "${date}"`);
  }
  let session: TradingSession | null;
  try {
    session = sessionOn('XNYS', date);
  } catch (err) {
    throw usageError(`--date ${date}: ${(err as Error).message}`);
  }
  if (session) return session;
  const ymd = Number(date.replaceAll('-', ''));
  const holiday = nyseHolidays(Number(date.slice(0, 4))).find((h) => h.date === ymd);
  const weekday = new Date(`${date}T12:00:00Z`).toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
  throw usageError(`--date ${date} is not a trading day on the NYSE calendar (${holiday ? `holiday: ${holiday.name}` : `a ${weekday}`}): nothing trades, nothing to rehearse`);
}

function specOf(f: RehearseFlags, symbols: string[]): DeploymentSpec {
  const parsed = DeploymentSpecSchema.safeParse({
    strategy: f.strategy, params: f.params ?? {}, symbols, timeframe: f.timeframe, accountId: f.account, broker: 'paper', calendar: 'XNYS',
    eod: { marginMinutes: f.eodMargin }, ...(f.quantity !== undefined ? { quantity: f.quantity } : {}), ...(f.short ? { allowShort: true } : {}),
    ...(f.risk ? { riskLimits: f.risk } : {}), ...(f.approval ? { approvalPolicy: f.approval } : {}), ...(f.exits ? { exits: f.exits } : {}),
    ...(f.partialFills ? { partialFills: f.partialFills } : {}),
  });
  if (!parsed.success) throw usageError('invalid deployment settings', issueLines(parsed.error.issues));
  return parsed.data;
}

function barSourceOf(f: RehearseFlags): BarSource {
  if (f.csv) {
    if (f.symbols) throw usageError('--csv is one series: name it with --symbol (not --symbols)');
    return { kind: 'csv', file: f.csv, tz: f.tz, symbol: (f.symbol ?? 'CSV').toUpperCase() };
  }
  const symbols = [...(f.symbols ?? []), ...(f.symbol ? [f.symbol.toUpperCase()] : [])];
  if (symbols.length === 0) throw usageError('say what to trade: --symbols A,B (bars the platform stores) or --csv <file> --symbol NAME');
  return { kind: 'stored', symbols };
}

/** A bar of the session's clock on stderr, only on a terminal (as the other long commands). */
function progressBar(session: TradingSession): RehearsalProgress & { stop(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: ' rehearse |{bar}| {percentage}% | {clock} ET | {cycles} cycles | {approvals} approvals decided', hideCursor: true }, cliProgress.Presets.shades_classic);
  const total = Math.round((session.close - session.open) / 60_000);
  bar.start(total, 0, { clock: exchangeTime('XNYS', session.open).slice(11), cycles: 0, approvals: 0 });
  return {
    update(dataMs, c) {
      bar.update(Math.min(total, Math.max(0, Math.round((dataMs - session.open) / 60_000))), { clock: exchangeTime('XNYS', dataMs).slice(11), ...c });
    },
    stop: () => bar.stop(),
  };
}

async function rehearse(f: RehearseFlags): Promise<void> {
  const session = sessionOf(f.date);
  const source = barSourceOf(f);
  const spec = specOf(f, source.kind === 'csv' ? [source.symbol] : source.symbols);
  const started = Date.now();
  const log = (m: string) => !f.json && process.stderr.write(`${m}\n`);
  const servers = await platformServers();
  const platform = source.kind === 'stored' ? new Pool({ connectionString: servers.adminUrl, max: 1 }) : undefined;
  const bars = await readSessionBars(source, platform, spec.timeframe, session, f.date).finally(() => platform?.end());
  const infra = await openRehearsalInfra(servers, { account: spec.accountId, initialCash: f.cash, log });
  // Ctrl-C: the rehearsal's database, keys and paper broker go too
  const interrupted = () => void infra.stop(false).finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let ok = false;
  try {
    await storeSessionBars(infra.db, spec.timeframe, bars);
    const bar = progressBar(session);
    const day = await rehearseSession(infra, { spec, session, date: f.date, rule: f.approve }, bar).finally(() => bar.stop());
    const report = await collectReport(infra.db, paperBrokerPort(infra.paper.url), day, {
      date: f.date,
      session: { open: new Date(session.open).toISOString(), close: new Date(session.close).toISOString(), earlyClose: session.earlyClose },
      deployment: { id: day.deploymentId, strategy: spec.strategy, params: spec.params, symbols: spec.symbols, timeframe: spec.timeframe, accountId: spec.accountId, cycles: day.cycles },
      bars: bars.perSymbol,
      policy: spec.approvalPolicy,
      rule: f.approve.text + (f.approve === DEFAULT_RULE ? ' (the default)' : ''),
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    });
    if (f.json) printJson(report);
    else print(reportText(report));
    if (f.keep) log(`kept database ${infra.databaseName} on the platform's Postgres (drop it when done)`);
    ok = true;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await infra.stop(Boolean(f.keep) && ok);
  }
}

const DEFAULT_RULE = approvalRuleArg(DEFAULT_APPROVAL_RULE);

/** `rehearse`: one whole session of a deployment in Temporal's time-skipping environment, printed as a day. */
export function registerRehearseCommand(program: Command): void {
  program
    .command('rehearse')
    .description('trade one whole NYSE session in seconds: the real deployment and end-of-day workflows in Temporal\'s time-skipping server, on stored bars, with the paper broker')
    .requiredOption('--date <YYYY-MM-DD>', 'the session to rehearse (an NYSE trading day)')
    .addOption(new Option('--strategy <name>', 'strategy').choices([...STRATEGY_NAMES]).makeOptionMandatory())
    .option('--params <json>', 'strategy parameters as JSON, e.g. \'{"fast":10,"slow":30}\'', jsonObjectArg('--params'))
    .option('--symbols <list>', "comma-separated symbols whose bars the platform stores (read from its Postgres)", (v: string) => {
      const s = symbolList(v);
      if (s.length === 0) throw new InvalidArgumentError('--symbols needs at least one symbol, e.g. AAPL,MSFT.');
      return s;
    })
    .option('--symbol <name>', 'one stored symbol; with --csv, the name its bars trade under (default CSV)')
    .option('--csv <file>', 'trade the bars of this OHLCV CSV file instead (loaded into the rehearsal\'s own bar store)')
    .option('--tz <zone>', 'IANA time zone of the CSV times', 'America/New_York')
    .addOption(new Option('--timeframe <tf>', 'bar timeframe').choices([...DEPLOYMENT_TIMEFRAMES]).default('5m'))
    .option('--account <id>', 'paper account id', 'rehearsal')
    .option('--cash <amount>', 'starting cash of the paper account', numberArg('--cash', { min: 1 }), 100_000)
    .option('--quantity <qty>', 'fixed quantity per position', numberArg('--quantity'))
    .option('--short', 'allow short positions')
    .option('--risk <json>', 'risk limits as JSON, e.g. \'{"maxPositionQty":10}\'', jsonObjectArg('--risk'))
    .option('--approval <json>', 'approval policy as JSON, e.g. \'{"mode":"always"}\' (default none)', jsonObjectArg('--approval'))
    .option('--approve <rule>', 'how the approvals the policy asks for are decided: all, none or below:<notional>', approvalRuleArg, DEFAULT_RULE)
    .option('--exits <json>', 'take-profit, stop-loss and trailing stop as JSON', jsonObjectArg('--exits'))
    .addOption(new Option('--partial-fills <policy>', 'what happens to the rest of a partial fill').choices([...PARTIAL_FILL_POLICIES]))
    .option('--eod-margin <minutes>', 'reduce-only and liquidation this many minutes before the close', numberArg('--eod-margin', { min: 2, integer: true }), 5)
    .option('--keep', "keep the rehearsal's database afterwards (its name is printed)")
    .option('--json', 'print the day as one JSON document')
    .action(async (f: RehearseFlags) => {
      try {
        await rehearse(f);
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(`rehearsal failed: ${(err as Error).message}`);
      }
    });
}
