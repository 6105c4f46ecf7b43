import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { bundleWorkflowCode } from '@temporalio/worker';

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

test.each(['cpu', 'io'])('workflows/%s bundles for the sandbox', async (queue) => {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(`../workflows/${queue}`), logger: quiet });
  expect(code.length).toBeGreaterThan(10_000);
  // Activity implementations and Node-side clients never end up in workflow code.
  expect(code).not.toMatch(/createBacktestActivities|pg-copy-streams|ioredis/);
  // The exchange calendar converts zones with domain/time alone: the CSV parser stays out of workflow code.
  expect(code).not.toMatch(/OhlcvCsvParser|domain\/csv[./]/);
});

test.each(['reads-files', 'uses-pg'])('a workflow importing Node modules (%s) does not bundle', async (name) => {
  await expect(
    bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'fixtures', 'bad-workflows', `${name}.ts`), logger: quiet }),
  ).rejects.toThrow(/disallowed modules|Webpack finished with errors/);
});

test('lint rejects Node built-ins, I/O clients, clocks and value imports of activities in workflows/', async () => {
  const root = path.resolve(__dirname, '..');
  const source = [
    "import { readFileSync } from 'node:fs';",
    "import { Pool } from 'pg';",
    "import { createCpuActivities } from '../../activities/cpu';",
    "import type { CpuActivities } from '../../activities/cpu';",
    'export const x = [readFileSync, Pool, createCpuActivities, Date.now(), process.env.HOME] as unknown as CpuActivities;',
  ].join('\n');
  // ESLint's flat config is ESM, which jest's module system cannot load, so lint through the CLI.
  let out: string;
  try {
    out = execFileSync(path.join(root, 'node_modules', '.bin', 'eslint'), ['--stdin', '--stdin-filename', 'workflows/backtest/lint-probe.ts', '--format', 'json'], { cwd: root, input: source, encoding: 'utf8' });
  } catch (err) {
    out = (err as { stdout: string }).stdout; // eslint exits 1 when it finds problems
  }
  const [result] = JSON.parse(out) as Array<{ messages: Array<{ line: number; ruleId: string }> }>;
  const messages = result!.messages.map((m) => `${m.line}:${m.ruleId}`);
  expect(messages).toEqual(
    expect.arrayContaining(['1:no-restricted-imports', '2:no-restricted-imports', '3:no-restricted-imports', '5:no-restricted-properties', '5:no-restricted-globals']),
  );
  expect(messages.filter((m) => m.startsWith('4:'))).toEqual([]); // a type-only import is allowed
});
