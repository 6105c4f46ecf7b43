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

/**
 * The CLI's start-up loads only what its commands share: the rehearsal's machinery (Temporal's SDK and test server,
 * the Postgres and Redis drivers) is loaded by `rehearse` alone, which kept every other command's start at a quarter.
 */
test('a command that only talks to the API loads neither the Temporal SDK nor a database driver; rehearse loads them when it runs', async () => {
  const loaded = async (args: string[]) => {
    // Records every package the CLI requires, then runs it as the bin does (the exit code is not the point here).
    const probe = `const M = require('node:module'); const seen = new Set(); const load = M._load;
      M._load = function (request, ...rest) { if (!request.startsWith('.') && !request.startsWith('/')) seen.add(request.startsWith('@') ? request.split('/').slice(0, 2).join('/') : request.split('/')[0]); return load.call(this, request, ...rest); };
      process.on('exit', () => process.stderr.write('\\nLOADED ' + [...seen].sort().join(' ') + '\\n'));
      process.argv = [process.argv[0], 'durable-trader', ...${JSON.stringify(args)}];
      require('tsx/cjs'); require('./clients/cli/main.ts').main();`;
    const r = await run(process.execPath, ['-e', probe], { cwd: ROOT, timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: home, API_URL: 'http://127.0.0.1:9', DATABASE_URL: 'postgres://app:app@127.0.0.1:9/app' } }).catch((err: { stderr: string }) => err);
    return /LOADED (.*)/.exec(r.stderr)![1]!.split(' ');
  };
  const heavy = ['@temporalio/client', '@temporalio/worker', '@temporalio/testing', 'pg', 'ioredis'];
  const list = await loaded(['deployments', 'list']);
  expect(list).toContain('commander');
  expect(list.filter((p) => heavy.includes(p))).toEqual([]);
  // rehearse checks its flags first, then loads the rest (here it then stops at the unreachable Postgres)
  const rehearse = await loaded(['rehearse', '--date', '2006-01-03', '--csv', NVDA, '--symbol', 'NVDA', '--strategy', 'sma-cross']);
  expect(rehearse).toEqual(expect.arrayContaining(['@temporalio/testing', 'pg', 'ioredis']));
}, 90_000);
