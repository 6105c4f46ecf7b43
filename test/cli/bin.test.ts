import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SHARED_DATA } from '../helpers/stack';

/** The package bin: `npx durable-trader ...` prints exactly what the command prints, so --json is one document. */
const ROOT = path.resolve(__dirname, '..', '..');
const NVDA = path.join(SHARED_DATA, 'nvda-1999-2014.txt');
const run = promisify(execFile);

let home: string;
beforeAll(() => {
  // a fresh npm cache: npx links the package into it on first use, as on a new clone
  home = mkdtempSync(path.join(os.tmpdir(), 'bin-test-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

const npm = (bin: 'npx' | 'npm', args: string[]) =>
  run(bin, args, {
    cwd: ROOT,
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? '', HOME: home, npm_config_update_notifier: 'false', API_KEY: '' },
  });

test('npx durable-trader backtest --local --csv ... --json: the whole of stdout is one JSON document', async () => {
  const { stdout } = await npm('npx', ['durable-trader', 'backtest', '--local', '--csv', NVDA, '--strategy', 'donchian-breakout', '--json']);
  const result = JSON.parse(stdout) as Record<string, unknown>;
  expect(result).toEqual(expect.objectContaining({ finalEquity: expect.any(Number), cash: expect.any(Number), position: expect.any(Number), trades: expect.any(Array), metrics: expect.any(Object) }));
  expect(stdout.startsWith('{')).toBe(true);
}, 90_000);

test('npm run cli -- ... --json does not give clean JSON (npm prints its banner to stdout); npm run -s does', async () => {
  const args = ['backtest', '--local', '--csv', NVDA, '--json'];
  const noisy = await npm('npm', ['run', 'cli', '--', ...args]);
  expect(noisy.stdout).toMatch(/^\s*> durable-trader@/);
  expect(() => JSON.parse(noisy.stdout)).toThrow();
  const silent = await npm('npm', ['run', '-s', 'cli', '--', ...args]);
  expect(JSON.parse(silent.stdout)).toEqual(expect.objectContaining({ finalEquity: expect.any(Number) }));
}, 90_000);

test('the bin names itself in usage and maps errors to exit codes', async () => {
  const help = await npm('npx', ['durable-trader', '--help']);
  expect(help.stdout).toMatch(/^Usage: durable-trader /);
  const bad = await npm('npx', ['durable-trader', 'backtest', '--local']).catch((err: { code: number; stderr: string }) => err);
  expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/--local needs --csv <file>/) });
}, 90_000);
