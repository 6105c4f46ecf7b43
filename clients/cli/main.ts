import { Command, CommanderError, Option } from 'commander';
import { registerApprovalCommands } from './commands/approvals';
import { registerBacktestCommands } from './commands/backtest';
import { registerDataCommands } from './commands/data';
import { registerDeploymentCommands } from './commands/deployments';
import { registerMarketDataCommands } from './commands/market-data';
import { registerMaintenanceCommands } from './commands/maintenance';
import { registerKillSwitchCommands } from './commands/kill-switch';
import { registerLiquidationCommands } from './commands/liquidations';
import { registerReconciliationCommands } from './commands/reconciliation';
import { registerRehearseCommand } from './commands/rehearse';
import { registerScanCommand } from './commands/scan';
import { registerTradingCommands } from './commands/trading';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './errors';
import type { GlobalOptions } from './options';

/** The command tree; `run` parses argv and maps errors to exit codes. */
export function buildProgram(): Command {
  const program = new Command('durable-trader')
    .description('durable-trader command line: the HTTP API from a terminal, plus in-process backtests (backtest --local)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addOption(new Option('--api-url <url>', 'API base URL').env('API_URL').default('http://127.0.0.1:3000'))
    .addOption(new Option('--api-key <key>', 'API key (Authorization: Bearer)').env('API_KEY'));
  const globals = () => program.opts<GlobalOptions>();
  registerDataCommands(program, globals);
  registerBacktestCommands(program, globals);
  registerScanCommand(program, globals);
  registerDeploymentCommands(program, globals);
  registerMarketDataCommands(program, globals);
  registerReconciliationCommands(program, globals);
  registerKillSwitchCommands(program, globals);
  registerTradingCommands(program, globals);
  registerApprovalCommands(program, globals);
  registerLiquidationCommands(program, globals);
  registerMaintenanceCommands(program, globals);
  registerRehearseCommand(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its message already
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n${err.details.map((d) => `${d}\n`).join('')}`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT_FAILURE;
  }
}

/** The process entry: `npx durable-trader` (bin/durable-trader.js) and `npm run cli --` (tsx clients/cli/main.ts). */
export function main(): void {
  // `cli ... | head`: a closed stdout ends the command quietly
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  void run(process.argv).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) main();
