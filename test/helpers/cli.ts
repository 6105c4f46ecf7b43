import path from 'node:path';
import { bundleEntry } from './entry-bundle';
import { testStack } from './stack';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI_BUNDLE = 'cli.cjs';
const ENTRY = path.join(ROOT, 'clients', 'cli', 'main.ts');

/**
 * Bundles clients/cli/main.ts (see bundleEntry) for the tests that run the CLI as a process: the CLI suites run it a
 * few hundred times. `npm run cli` and `npx durable-trader` through tsx stay tested by test/cli/bin.test.ts and
 * test/cli/local-backtest.test.ts.
 */
export function buildCliBundle(outDir: string): Promise<void> {
  return bundleEntry(ENTRY, path.join(outDir, CLI_BUNDLE));
}

/** The arguments to node (process.execPath) that run the CLI with `args`; spawn it with cwd at the repository root and CLI_ENV. */
export function cliArgs(args: string[]): string[] {
  return [path.join(testStack().WORKFLOW_BUNDLE_DIR, CLI_BUNDLE), ...args];
}

/** What the CLI's environment needs besides its own variables: the bundle may live outside the repository (TEST_STACK_DIR). */
export const CLI_ENV = { NODE_PATH: path.join(ROOT, 'node_modules') };
