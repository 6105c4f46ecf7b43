import type { Command } from 'commander';
import { keyValues, table } from '../format';
import { clientFrom, numberArg, print, type GlobalOptions } from '../options';

/** The API's liquidation (see /docs for the full schema). */
interface Liquidation {
  id: string;
  workflowId: string;
  accountId: string;
  tradingDay: string;
  trigger: string;
  requestedBy: string;
  reason: string;
  scope: string;
  status: string;
  reduceOnlyAt: string;
  flatBy: string;
  liftsAt: string;
  steps: Array<{ step: string; at: string; detail: Record<string, unknown> }>;
  report: { flat: boolean; inTime: boolean; verifiedAt: string; left: Array<{ symbol: string; qty: number; why: string }>; orders: number; rounds: number } | null;
}

interface Summary {
  tradingDay: string;
  scope: string;
  scopeId: string;
  accountId: string;
  metrics: { dayPnl: number; realizedPnl: number; unrealizedPnl: number; trades: number; winRate: number | null; profitFactor: number | null; maxDrawdown: number; fees: number };
}

const jsonOut = (value: unknown) => print(JSON.stringify(value, null, 2));

function describe(l: Liquidation): string {
  const verdict = l.report ? (l.report.flat && l.report.inTime ? `flat at ${l.report.verifiedAt}` : `NOT flat: ${l.report.left.map((x) => `${x.symbol} ${x.qty} (${x.why})`).join('; ')}`) : '(not verified yet)';
  return [
    keyValues([
      ['id', l.id], ['workflow', l.workflowId], ['account', l.accountId], ['day', l.tradingDay], ['trigger', `${l.trigger} by ${l.requestedBy}: ${l.reason}`],
      ['scope', l.scope], ['status', l.status], ['reduce-only at', l.reduceOnlyAt], ['flat by', l.flatBy], ['entries again', l.liftsAt], ['verdict', verdict],
    ]),
    '',
    table(l.steps.map((s) => ({ step: s.step, at: s.at, detail: JSON.stringify(s.detail).slice(0, 100) }))),
  ].join('\n');
}

/** `liquidate`, `liquidations list|show` and `daily-summaries`. */
export function registerLiquidationCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('liquidate')
    .description("liquidate an account now (admin, or a trader of the account): reduce-only until the next open, orders cancelled, every position closed, verified flat")
    .requiredOption('--account <id>', 'broker account id')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { account: string; reason: string; json?: boolean }) => {
      const r = await clientFrom(globals()).post<{ created: boolean; liquidation: Liquidation }>('/v1/liquidations', { accountId: opts.account, reason: opts.reason });
      if (opts.json) return jsonOut(r);
      print(`${r.created ? 'liquidation started' : "today's liquidation exists already"}: ${r.liquidation.id} (workflow ${r.liquidation.workflowId}, status ${r.liquidation.status})`);
    });

  const liquidations = program.command('liquidations').description('end-of-day liquidations: their steps and verdicts');
  liquidations
    .command('list')
    .description('liquidations, newest day first')
    .option('--account <id>', 'only this account')
    .option('--date <YYYY-MM-DD>', 'only this trading day')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { account?: string; date?: string; limit: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ liquidations: Liquidation[] }>('/v1/liquidations', { accountId: opts.account, date: opts.date, limit: String(opts.limit) });
      if (opts.json) return jsonOut(r);
      print(table(r.liquidations.map((l) => ({ id: l.id, day: l.tradingDay, account: l.accountId, trigger: l.trigger, status: l.status, orders: l.report?.orders ?? '', left: l.report?.left.length ?? '' }))));
    });
  liquidations
    .command('show')
    .description('one liquidation with its steps and what is left')
    .argument('<id>', 'liquidation id')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<Liquidation>(`/v1/liquidations/${encodeURIComponent(id)}`);
      if (opts.json) return jsonOut(r);
      print(describe(r));
    });

  program
    .command('daily-summaries')
    .description('daily summaries per account and deployment (written after each session closes)')
    .option('--date <YYYY-MM-DD>', 'only this trading day')
    .option('--account <id>', 'only this account')
    .option('--deployment <id>', 'only this deployment')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { date?: string; account?: string; deployment?: string; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ summaries: Summary[] }>('/v1/daily-summaries', { date: opts.date, accountId: opts.account, deploymentId: opts.deployment });
      if (opts.json) return jsonOut(r);
      print(table(r.summaries.map((s) => ({ day: s.tradingDay, scope: s.scope, id: s.scopeId, dayPnl: s.metrics.dayPnl, realized: s.metrics.realizedPnl, unrealized: s.metrics.unrealizedPnl, trades: s.metrics.trades, winRate: s.metrics.winRate ?? '', pf: s.metrics.profitFactor ?? '', maxDD: s.metrics.maxDrawdown }))));
    });
}
