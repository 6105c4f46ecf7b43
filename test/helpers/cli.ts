import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { testStack } from './stack';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI_BUNDLE = 'cli.cjs';
const ENTRY = path.join(ROOT, 'clients', 'cli', 'main.ts');

/**
 * Bundles clients/cli/main.ts into one file (packages stay external) for the tests that run the CLI as a process.
 * Under tsx each run resolves and loads some 230 source files (about 1.4 s of CPU); the bundle starts in about 0.2 s,
 * and the CLI suites run it a few hundred times. `npm run cli` and `npx durable-trader` through tsx stay tested by
 * test/cli/bin.test.ts and test/cli/local-backtest.test.ts. __dirname and __filename are put back as each source
 * file's own, so paths the product derives from them (the repository root, migrations, the paper broker) do not move,
 * and only main.ts runs as the program (`require.main === module` is false in every other module, as under tsx).
 */
export async function buildCliBundle(outDir: string): Promise<void> {
  await build({
    entryPoints: [ENTRY],
    outfile: path.join(outDir, CLI_BUNDLE),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    packages: 'external',
    logLevel: 'warning',
    plugins: [
      {
        name: 'source-dirname',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (args) => {
            let contents = (await readFile(args.path, 'utf8')).replace(/\b__dirname\b/g, JSON.stringify(path.dirname(args.path))).replace(/\b__filename\b/g, JSON.stringify(args.path));
            // in one bundle every module is the main module: only main.ts may run as a program (db/migrate.ts may not)
            if (args.path !== ENTRY) contents = contents.replace(/\brequire\.main === module\b/g, 'false');
            return { contents, loader: 'ts' };
          });
        },
      },
    ],
  });
}

/** The arguments to node (process.execPath) that run the CLI with `args`; spawn it with cwd at the repository root and CLI_ENV. */
export function cliArgs(args: string[]): string[] {
  return [path.join(testStack().WORKFLOW_BUNDLE_DIR, CLI_BUNDLE), ...args];
}

/** What the CLI's environment needs besides its own variables: the bundle may live outside the repository (TEST_STACK_DIR). */
export const CLI_ENV = { NODE_PATH: path.join(ROOT, 'node_modules') };
