import { InvalidArgumentError, Option, type Command } from 'commander';
import { STRATEGY_NAMES } from '../../../domain/backtest/types';
import { BROKERS, DEPLOYMENT_TIMEFRAMES } from '../../../domain/deployment/spec';
import { usageError } from '../errors';
import { keyValues, table } from '../format';
import { clientFrom, jsonObjectArg, numberArg, print, type GlobalOptions } from '../options';

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

interface CommandAnswer {
  id: string;
  action: string;
  commandId: string;
  applied: boolean;
  status: string;
  cycle: number | null;
  paramsVersion: number;
  detail: string;
}

/** One line for a command's answer: what the runtime did, or that it is recorded and not applied yet. */
function commandLine(r: CommandAnswer, what: string = r.action): string {
  return r.applied
    ? `deployment ${r.id}: ${what} applied (status ${r.status}, cycle ${r.cycle}, params v${r.paramsVersion}; command ${r.commandId})`
    : `deployment ${r.id}: ${what} recorded, not applied yet: the runtime did not answer in time and applies it when it can (status ${r.status}; command ${r.commandId})`;
}

interface Order {
  clientOrderId: string;
  deploymentId: string;
  symbol: string;
  side: string;
  qty: number;
  state: string;
  filledQty: number;
  avgFillPrice: number | null;
  rejectReason: string | null;
  createdAt: string;
}

type Fill = {
  brokerFillId: string;
  clientOrderId: string;
  deploymentId: string;
  symbol: string;
  side: string;
  qty: number;
  price: number;
  time: string;
};

type Position = {
  deploymentId: string;
  accountId: string;
  symbol: string;
  qty: number;
  cashFlow: number;
  fills: number;
  lastFillAt: string;
};

interface Halt {
  scope: string;
  id: string | null;
  reason: string;
  setBy: string;
  setAt: string;
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
  if (f.calendar) body.calendar = f.calendar;
  if (f.replayFrom !== undefined) body.replay = { from: f.replayFrom, speed: f.replaySpeed };
  if (f.dataProvider !== undefined) body.dataProvider = f.dataProvider;
  return body;
}

interface Finding {
  id: string;
  kind: string;
  accountId: string;
  symbol: string;
  brokerRef: string;
  clientOrderId: string;
  foundAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}

const jsonOut = (value: unknown) => print(JSON.stringify(value, null, 2));

function showDeployment(d: DeploymentDetail): void {
  print(
    keyValues([
      ['deployment', d.id],
      ...(d.name ? ([['name', d.name]] as Array<[string, unknown]>) : []),
      ['status', d.state.source === 'workflow' && d.state.status !== d.status ? `${d.status} (runtime: ${d.state.status})` : d.status],
      ...(d.statusReason ? ([['reason', d.statusReason]] as Array<[string, unknown]>) : []),
      ['strategy', `${d.strategy} ${JSON.stringify(d.params)} (params v${d.paramsVersion})`],
      ['series', `${d.symbols.join(',')} ${d.timeframe}`],
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

/** `deployments ...`, `kill-switch ...`, `orders`, `fills` and `positions`. */
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
    .option('--calendar <id>', 'exchange calendar (XNYS or 24x7)')
    .option('--replay-from <iso>', 'replay stored bars from this date-time (with a zone) instead of trading live')
    .option('--replay-speed <n>', 'replay speed, 1..3600 x real time', numberArg('--replay-speed', { min: 1 }))
    .option('--data-provider <name>', "trade the bars of a live feed the platform runs (alpaca or replay): each cycle waits for the feed's bar")
    .option('--json', 'print the answer as JSON')
    .action(async (f: CreateFlags) => {
      const created = await clientFrom(globals()).post<CreatedDeployment>('/v1/deployments', deploymentBodyFromFlags(f));
      if (f.json) return jsonOut(created);
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
      if (opts.json) return jsonOut(r);
      print(
        table(
          r.deployments.map((d) => ({
            id: d.id,
            name: d.name ?? '',
            status: d.status,
            strategy: d.strategy,
            symbols: d.symbols.join(','),
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
      if (opts.json) return jsonOut(d);
      showDeployment(d);
    });

  const describe: Record<string, string> = {
    pause: 'stop trading new bars until resumed (an order not yet sent is cancelled)',
    resume: 'trade again after a pause',
    stop: 'end the runtime for good (an order not yet sent is cancelled; one the broker may have is looked up first)',
    flatten: 'close every position of the deployment now (an entry in flight is resolved first)',
  };
  for (const action of ['pause', 'resume', 'stop', 'flatten'] as const) {
    deployments
      .command(action)
      .description(describe[action])
      .argument('<id>', 'deployment id')
      .option('--reason <text>', 'why (recorded in the audit log)')
      .option('--json', 'print the answer as JSON')
      .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
        const r = await clientFrom(globals()).post<CommandAnswer>(`/v1/deployments/${encodeURIComponent(id)}/${action}`, opts.reason ? { reason: opts.reason } : {});
        if (opts.json) return jsonOut(r);
        print(commandLine(r));
      });
  }

  deployments
    .command('params')
    .description('change the strategy parameters (a new params version)')
    .argument('<id>', 'deployment id')
    .requiredOption('--params <json>', 'the complete strategy parameters as JSON', jsonObjectArg('--params'))
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { params: Record<string, unknown>; json?: boolean }) => {
      const r = await clientFrom(globals()).post<CommandAnswer & { version: number; params: Record<string, unknown> }>(`/v1/deployments/${encodeURIComponent(id)}/params`, {
        params: opts.params,
      });
      if (opts.json) return jsonOut(r);
      print(commandLine(r, `params v${r.version} ${JSON.stringify(r.params)}`));
    });

  deployments
    .command('breaker-reset')
    .description('reset the latched drawdown breaker (admin key; recorded, then applied by the runtime)')
    .argument('<id>', 'deployment id')
    .requiredOption('--reason <text>', 'why it is safe to trade again (recorded in the audit log)')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { reason: string; json?: boolean }) => {
      const r = await clientFrom(globals()).post<CommandAnswer>(`/v1/deployments/${encodeURIComponent(id)}/breaker-reset`, { reason: opts.reason });
      if (opts.json) return jsonOut(r);
      print(commandLine(r, 'breaker reset'));
    });

  const reconciliation = program.command('reconciliation').description('broker orders and fills the ledger does not know (they block their account)');
  reconciliation
    .command('list')
    .description('findings, newest first')
    .option('--open', 'only unresolved findings (the ones that block)')
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { open?: boolean; account?: string; limit: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ findings: Finding[] }>('/v1/reconciliation/findings', { open: opts.open ? 'true' : undefined, accountId: opts.account, limit: opts.limit });
      if (opts.json) return jsonOut(r);
      print(
        table(
          r.findings.map((f) => ({ id: f.id, kind: f.kind, account: f.accountId, symbol: f.symbol, brokerRef: f.brokerRef, clientOrderId: f.clientOrderId, found: f.foundAt, resolved: f.resolvedAt ? `${f.resolvedBy}: ${f.resolution}` : 'OPEN' })),
        ),
      );
    });
  reconciliation
    .command('resolve')
    .description('mark a finding resolved (admin key; audited): its account trades again once none is open')
    .argument('<id>', 'finding id')
    .requiredOption('--resolution <text>', 'what was done about it')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { resolution: string; json?: boolean }) => {
      const r = await clientFrom(globals()).post<Finding>(`/v1/reconciliation/findings/${encodeURIComponent(id)}/resolve`, { resolution: opts.resolution });
      if (opts.json) return jsonOut(r);
      print(`finding ${r.id} resolved by ${r.resolvedBy}`);
    });

  const killSwitch = program.command('kill-switch').description('halt trading globally, per account or per deployment (admin key)');
  for (const [name, active] of [
    ['on', true],
    ['off', false],
  ] as const) {
    killSwitch
      .command(name)
      .description(active ? 'halt trading for a scope: only exposure-reducing orders go out' : 'lift the halt of a scope')
      .addOption(new Option('--scope <scope>', 'what to halt').choices(['global', 'account', 'deployment']).makeOptionMandatory())
      .option('--id <id>', 'account id or deployment id (not for global)')
      .requiredOption('--reason <text>', 'why (recorded in the audit log)')
      .option('--json', 'print the answer as JSON')
      .action(async (opts: { scope: string; id?: string; reason: string; json?: boolean }) => {
        if (opts.scope !== 'global' && !opts.id) throw usageError(`--id is required for --scope ${opts.scope}`);
        if (opts.scope === 'global' && opts.id) throw usageError('--scope global takes no --id');
        const r = await clientFrom(globals()).post<{ scope: string; id: string | null; active: boolean }>('/v1/kill-switch', {
          scope: opts.scope,
          ...(opts.id ? { id: opts.id } : {}),
          active,
          reason: opts.reason,
        });
        if (opts.json) return jsonOut(r);
        print(`kill switch ${r.active ? 'ON' : 'off'}: ${r.scope}${r.id ? ` ${r.id}` : ''}`);
      });
  }
  killSwitch
    .command('status')
    .description('the scopes that are halted now')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ halts: Halt[] }>('/v1/kill-switch');
      if (opts.json) return jsonOut(r);
      print(table(r.halts.map((x) => ({ scope: x.scope, id: x.id ?? '', reason: x.reason, by: x.setBy, since: x.setAt }))));
    });

  program
    .command('orders')
    .description('orders from the ledger, newest first')
    .option('--deployment <id>', 'only this deployment')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--state <state>', 'only this ledger state, e.g. FILLED')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { deployment?: string; symbol?: string; state?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ orders: Order[] }>('/v1/orders', {
        deploymentId: opts.deployment,
        symbol: opts.symbol,
        state: opts.state,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (opts.json) return jsonOut(r);
      print(
        table(
          r.orders.map((o) => ({
            clientOrderId: o.clientOrderId,
            deployment: o.deploymentId,
            symbol: o.symbol,
            side: o.side,
            qty: o.qty,
            state: o.state,
            filled: o.filledQty,
            avgPrice: o.avgFillPrice,
            created: o.createdAt,
            reject: o.rejectReason ?? '',
          })),
        ),
      );
    });

  program
    .command('fills')
    .description('fills, newest first')
    .option('--deployment <id>', 'only this deployment')
    .option('--symbol <symbol>', 'only this symbol')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { deployment?: string; symbol?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ fills: Fill[] }>('/v1/fills', { deploymentId: opts.deployment, symbol: opts.symbol, limit: opts.limit, offset: opts.offset });
      if (opts.json) return jsonOut(r);
      print(table(r.fills, ['time', 'deploymentId', 'symbol', 'side', 'qty', 'price', 'clientOrderId', 'brokerFillId']));
    });

  program
    .command('positions')
    .description('positions per deployment and symbol, from the fills')
    .option('--deployment <id>', 'only this deployment')
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 100)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { deployment?: string; account?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ positions: Position[] }>('/v1/positions', {
        deploymentId: opts.deployment,
        accountId: opts.account,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (opts.json) return jsonOut(r);
      print(table(r.positions, ['accountId', 'deploymentId', 'symbol', 'qty', 'cashFlow', 'fills', 'lastFillAt']));
    });
}
