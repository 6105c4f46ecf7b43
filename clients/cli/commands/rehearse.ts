import { InvalidArgumentError, Option, type Command } from 'commander';
import { STRATEGY_NAMES } from '../../../domain/backtest/types';
import { nyseHolidays, sessionOn, type TradingSession } from '../../../domain/calendar';
import { DEPLOYMENT_TIMEFRAMES, PARTIAL_FILL_POLICIES, DeploymentSpecSchema, type DeploymentSpec } from '../../../domain/deployment/spec';
import { CliError, issueLines, usageError } from '../errors';
import { jsonObjectArg, numberArg } from '../options';
import { approvalRuleArg, DEFAULT_APPROVAL_RULE } from '../rehearse/approval-rule';
import type { BarSource } from '../rehearse/bars';
import type * as RehearseCommand from '../rehearse/command';
import type { RehearseFlags } from '../rehearse/command';

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

const DEFAULT_RULE = approvalRuleArg(DEFAULT_APPROVAL_RULE);

/**
 * Checks the flags, then runs the day. What runs it (Temporal's SDK and test server, Postgres, Redis, the paper
 * broker) is loaded only now: every other command of the CLI starts without it.
 */
async function rehearse(f: RehearseFlags): Promise<void> {
  const session = sessionOf(f.date);
  const source = barSourceOf(f);
  const spec = specOf(f, source.kind === 'csv' ? [source.symbol] : source.symbols);
  // require, not import(): the package bin runs this file through tsx's CommonJS hook, where import() of a .ts file fails
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { rehearseDay } = require('../rehearse/command') as typeof RehearseCommand;
  await rehearseDay(f, { session, source, spec, ruleText: f.approve.text + (f.approve === DEFAULT_RULE ? ' (the default)' : '') });
}

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
