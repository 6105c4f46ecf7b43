import { Option, type Command } from 'commander';
import { usageError } from '../errors';
import { table } from '../format';
import { clientFrom, print, printJson, type GlobalOptions } from '../options';

/** A halted scope as the API shows it (see /docs). */
interface Halt {
  scope: string;
  id: string | null;
  reason: string;
  setBy: string;
  setAt: string;
}

/** `kill-switch on|off|status` (admin key to change it). */
export function registerKillSwitchCommands(program: Command, globals: () => GlobalOptions): void {
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
        if (opts.json) return printJson(r);
        print(`kill switch ${r.active ? 'ON' : 'off'}: ${r.scope}${r.id ? ` ${r.id}` : ''}`);
      });
  }
  killSwitch
    .command('status')
    .description('the scopes that are halted now')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ halts: Halt[] }>('/v1/kill-switch');
      if (opts.json) return printJson(r);
      print(table(r.halts.map((x) => ({ scope: x.scope, id: x.id ?? '', reason: x.reason, by: x.setBy, since: x.setAt }))));
    });
}
