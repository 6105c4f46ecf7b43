import type { Command } from 'commander';
import { clientFrom, jsonObjectArg, print, printJson, type GlobalOptions } from '../options';

/** The API's answer to a deployment command (see /docs). */
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

/** `deployments pause|resume|stop|flatten|params|breaker-reset <id>`: each prints the runtime's answer. */
export function registerDeploymentControlCommands(deployments: Command, globals: () => GlobalOptions): void {
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
        if (opts.json) return printJson(r);
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
      if (opts.json) return printJson(r);
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
      if (opts.json) return printJson(r);
      print(commandLine(r, 'breaker reset'));
    });
}
