import { InvalidArgumentError, Option, type Command } from 'commander';
import { STRATEGY_NAMES } from '../../../domain/backtest/types';
import { BROKERS, DEPLOYMENT_TIMEFRAMES, PARTIAL_FILL_POLICIES, EVALUATION_MODES } from '../../../domain/deployment/spec';
import { usageError } from '../errors';
import { keyValues, table } from '../format';
import { clientFrom, jsonObjectArg, numberArg, print, printJson, type GlobalOptions } from '../options';
import { registerDeploymentControlCommands } from './deployment-commands';
import { registerDeploymentCompareCommand } from './deployment-compare';
import { registerDeploymentCyclesCommand } from './deployment-cycles';

/** The API answers these commands read (see /docs for the full schemas). */
interface Links {
  self: string;
  temporalUi: string;
}

interface Deployment {
  id: string;
  workflowId: string;
  name: string | null;
  status: string;
  statusReason: string | null;
  /** a scanner's phase (idle, scanning, holding, exiting); null otherwise */
  phase: string | null;
  accountId: string;
  broker: string;
  strategy: string;
  symbols: string[];
  timeframe: string;
  paramsVersion: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  links: Links;
}

interface DeploymentDetail extends Deployment {
  spec: Record<string, unknown>;
  params: Record<string, number | boolean>;
  state: {
    source: string;
    status: string;
    cycle: number | null;
    paramsVersion: number;
    breaker: string | null;
    nextBarClose: string | null;
    waitingOn: string | null;
    inflightOrder: { clientOrderId: string; symbol: string; side: string; qty: number; since: string; resolving: boolean } | null;
    phase: string | null;
    lastScan: { barClose: string; screened: number; passed: number; rejected: Record<string, number>; ranked: string[]; held: string[]; lockLost: string[]; entered: string[] } | null;
  };
  blockers: Array<{ kind: string; detail: string }>;
  positions: Array<{ symbol: string; qty: number; cashFlow: number; fills: number }>;
  cycles: Array<{ cycle: number; symbol: string; barClose: string; action: string; reason: string | null; paramsVersion: number; positionQty: number | null; clientOrderIds: string[] }>;
}

interface CreatedDeployment {
  id: string;
  workflowId: string;
  status: string;
  links: Links;
}

export interface CreateFlags {
  name?: string;
  strategy: string;
  params?: Record<string, unknown>;
  symbols: string[];
  timeframe: string;
  account: string;
  broker: string;
  quantity?: number;
  short?: boolean;
  risk?: Record<string, unknown>;
  approval?: Record<string, unknown>;
  exits?: Record<string, unknown>;
  scanner?: Record<string, unknown>;
  eod?: Record<string, unknown>;
  partialFills?: string;
  evaluation?: string;
  calendar?: string;
  replayFrom?: string;
  replaySpeed?: number;
  dataProvider?: string;
  json?: boolean;
}

/** Comma-separated symbols, upper-cased. */
function symbolsArg(value: string): string[] {
  const symbols = value
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  if (symbols.length === 0) throw new InvalidArgumentError('--symbols needs at least one symbol, e.g. AAPL,MSFT.');
  return symbols;
}

/** The POST /v1/deployments body from the flags (only what was given; the API fills in the defaults). */
export function deploymentBodyFromFlags(f: CreateFlags): Record<string, unknown> {
  if ((f.replayFrom === undefined) !== (f.replaySpeed === undefined)) throw usageError('--replay-from and --replay-speed go together');
  const body: Record<string, unknown> = { strategy: f.strategy, symbols: f.symbols, timeframe: f.timeframe, accountId: f.account, broker: f.broker };
  if (f.name !== undefined) body.name = f.name;
  if (f.params) body.params = f.params;
  if (f.quantity !== undefined) body.quantity = f.quantity;
  if (f.short) body.allowShort = true;
  if (f.risk) body.riskLimits = f.risk;
  if (f.approval) body.approvalPolicy = f.approval;
  if (f.exits) body.exits = f.exits;
  if (f.scanner) body.scanner = f.scanner;
  if (f.eod) body.eod = f.eod;
  if (f.partialFills) body.partialFills = f.partialFills;
  if (f.evaluation) body.evaluation = f.evaluation;
  if (f.calendar) body.calendar = f.calendar;
  if (f.replayFrom !== undefined) body.replay = { from: f.replayFrom, speed: f.replaySpeed };
  if (f.dataProvider !== undefined) body.dataProvider = f.dataProvider;
  return body;
}

function showDeployment(d: DeploymentDetail): void {
  print(
    keyValues([
      ['deployment', d.id],
      ...(d.name ? ([['name', d.name]] as Array<[string, unknown]>) : []),
      ['status', d.state.source === 'workflow' && d.state.status !== d.status ? `${d.status} (runtime: ${d.state.status})` : d.status],
      ...(d.statusReason ? ([['reason', d.statusReason]] as Array<[string, unknown]>) : []),
      ['strategy', `${d.strategy} ${JSON.stringify(d.params)} (params v${d.paramsVersion})`],
      ['series', d.spec.scanner ? `scanner over ${d.symbols.length} symbols ${d.timeframe} ${JSON.stringify(d.spec.scanner)}` : `${d.symbols.join(',')} ${d.timeframe}`],
      ...(d.state.phase ? ([['phase', d.state.phase]] as Array<[string, unknown]>) : []),
      ...(d.state.lastScan ? ([['last scan', scanLine(d.state.lastScan)]] as Array<[string, unknown]>) : []),
      ['account', `${d.accountId} (${d.broker})`],
      ['cycle', d.state.cycle],
      ['breaker', d.state.breaker],
      ['next bar close', d.state.nextBarClose],
      ...(d.state.waitingOn ? ([['waiting on', d.state.waitingOn]] as Array<[string, unknown]>) : []),
      ['state from', d.state.source],
      ['created', `${d.createdBy} at ${d.createdAt}`],
      ['temporal', d.links.temporalUi],
    ]),
  );
  print('\nblockers');
  print(table(d.blockers.map((b) => ({ kind: b.kind, detail: b.detail })), ['kind', 'detail']));
  print('\npositions');
  print(table(d.positions, ['symbol', 'qty', 'cashFlow', 'fills']));
  print('\nlatest cycles');
  print(
    table(
      d.cycles.map((c) => ({ cycle: c.cycle, symbol: c.symbol, barClose: c.barClose, action: c.action, params: `v${c.paramsVersion}`, position: c.positionQty, reason: c.reason ?? '' })),
    ),
  );
}

/** "15:35Z: 3 of 200 passed (volume 150, no-entry-signal 47); ranked A,B,C; lock lost B; entered A,C" */
function scanLine(s: NonNullable<DeploymentDetail['state']['lastScan']>): string {
  const why = Object.entries(s.rejected).map(([k, n]) => `${k} ${n}`).join(', ');
  const parts = [`${s.barClose}: ${s.passed} of ${s.screened} passed${why ? ` (${why})` : ''}`, `ranked ${s.ranked.join(',') || '-'}`, `held ${s.held.join(',') || '-'}`];
  if (s.lockLost.length) parts.push(`lock lost ${s.lockLost.join(',')}`);
  if (s.entered.length) parts.push(`entered ${s.entered.join(',')}`);
  return parts.join('; ');
}

/** `deployments create|list|show`, and the commands that steer one (deployment-commands.ts). */
export function registerDeploymentCommands(program: Command, globals: () => GlobalOptions): void {
  const deployments = program.command('deployments').description('start, list, inspect and control trading deployments');

  deployments
    .command('create')
    .description('start a deployment (a long-running runtime workflow)')
    .option('--name <name>', 'display name')
    .addOption(new Option('--strategy <name>', 'strategy').choices([...STRATEGY_NAMES]).makeOptionMandatory())
    .option('--params <json>', 'strategy parameters as JSON, e.g. \'{"fast":10,"slow":30}\'', jsonObjectArg('--params'))
    .requiredOption('--symbols <list>', 'comma-separated symbols, e.g. AAPL,MSFT', symbolsArg)
    .addOption(new Option('--timeframe <tf>', 'bar timeframe').choices([...DEPLOYMENT_TIMEFRAMES]).makeOptionMandatory())
    .requiredOption('--account <id>', 'broker account id')
    .addOption(new Option('--broker <name>', 'broker').choices([...BROKERS]).default('paper'))
    .option('--quantity <qty>', 'fixed quantity per position', numberArg('--quantity'))
    .option('--short', 'allow short positions')
    .option('--risk <json>', 'risk limits as JSON, e.g. \'{"maxPositionQty":10,"dailyLossLimit":200}\'', jsonObjectArg('--risk'))
    .option('--approval <json>', 'approval policy as JSON, e.g. \'{"mode":"always"}\'', jsonObjectArg('--approval'))
    .option('--exits <json>', 'take-profit, stop-loss and trailing stop as JSON, e.g. \'{"stopLossPct":0.01,"trailingStopPct":0.02}\'', jsonObjectArg('--exits'))
    .option('--scanner <json>', 'trade as an intraday scanner over --symbols (its universe, up to 200), e.g. \'{"maxPositions":3,"minVolume":100000,"minPrice":5,"rankBy":"volume"}\' (needs --eod)', jsonObjectArg('--scanner'))
    .option('--eod <json>', 'flat by the close: reduce-only from the close minus marginMinutes, e.g. \'{"marginMinutes":5}\'', jsonObjectArg('--eod'))
    .addOption(new Option('--partial-fills <policy>', 'what happens to the rest of a partial fill').choices([...PARTIAL_FILL_POLICIES]))
    .addOption(new Option('--evaluation <mode>', "who decides at each bar close: the deployment's own workflow, or its group's batch evaluator (README: decision model)").choices([...EVALUATION_MODES]))
    .option('--calendar <id>', 'exchange calendar (XNYS or 24x7)')
    .option('--replay-from <iso>', 'replay stored bars from this date-time (with a zone) instead of trading live')
    .option('--replay-speed <n>', 'replay speed, 1..3600 x real time', numberArg('--replay-speed', { min: 1 }))
    .option('--data-provider <name>', "trade the bars of a live feed the platform runs (alpaca or replay): each cycle waits for the feed's bar")
    .option('--json', 'print the answer as JSON')
    .action(async (f: CreateFlags) => {
      const created = await clientFrom(globals()).post<CreatedDeployment>('/v1/deployments', deploymentBodyFromFlags(f));
      if (f.json) return printJson(created);
      print(keyValues([['deployment', created.id], ['status', created.status], ['follow', `npm run cli -- deployments show ${created.id}`], ['temporal', created.links.temporalUi]]));
    });

  deployments
    .command('list')
    .description('deployments, newest first')
    .option('--status <status>', 'running, paused, blocked, stopping, stopped or failed')
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 20)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { status?: string; account?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ deployments: Deployment[] }>('/v1/deployments', {
        status: opts.status,
        accountId: opts.account,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (opts.json) return printJson(r);
      print(
        table(
          r.deployments.map((d) => ({
            id: d.id,
            name: d.name ?? '',
            status: d.status,
            phase: d.phase ?? '',
            strategy: d.strategy,
            symbols: d.symbols.length > 5 ? `${d.symbols.slice(0, 5).join(',')},... (${d.symbols.length})` : d.symbols.join(','),
            tf: d.timeframe,
            account: d.accountId,
            params: `v${d.paramsVersion}`,
            created: d.createdAt,
          })),
        ),
      );
    });

  deployments
    .command('show')
    .description('one deployment: live state, positions and the latest cycles')
    .argument('<id>', 'deployment id')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const d = await clientFrom(globals()).get<DeploymentDetail>(`/v1/deployments/${encodeURIComponent(id)}`);
      if (opts.json) return printJson(d);
      showDeployment(d);
    });

  registerDeploymentCyclesCommand(deployments, globals);
  registerDeploymentControlCommands(deployments, globals);
  registerDeploymentCompareCommand(deployments, globals);
}
