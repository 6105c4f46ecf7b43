import type { Command } from 'commander';
import { table } from '../format';
import { clientFrom, numberArg, print, printJson, type GlobalOptions } from '../options';

/** A reconciliation finding as the API shows it (see /docs). */
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

/** `reconciliation list|resolve`: broker orders and fills the ledger does not know. */
export function registerReconciliationCommands(program: Command, globals: () => GlobalOptions): void {
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
      if (opts.json) return printJson(r);
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
      if (opts.json) return printJson(r);
      print(`finding ${r.id} resolved by ${r.resolvedBy}`);
    });
}
