import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startApi, type ApiHarness } from '../api/harness';
import { storeBars, syntheticBars, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, TEST_KEYS, testStack } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/** `scan` through a listening API with both workers: the same document as `scan --local`, and Ctrl-C cancels. */
const ROOT = path.resolve(__dirname, '..', '..');
const ORCL = path.join(SHARED_DATA, 'orcl-1995-2014.txt');

let h: ApiHarness;
let apiUrl: string;
let workers: RunningProcess[] = [];
const symbol = uniqueSymbol('CLISCAN');
const slow = uniqueSymbol('CLISLOW');

function startCli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: TEST_KEYS.trader },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

beforeAll(async () => {
  const stack = testStack();
  const env = {
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000',
  };
  workers = [startWorker('cpu', env), startWorker('io', env)];
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  // the CSV through the import route, as a user stores it (the same screening as scan --local applies)
  const imported = await h.app.inject({ method: 'POST', url: `/v1/bars/import?symbol=${symbol}&timeframe=1d`, headers: { authorization: `Bearer ${TEST_KEYS.trader}`, 'content-type': 'text/csv' }, payload: readFileSync(ORCL, 'utf8') });
  expect(imported.json()).toMatchObject({ inserted: 5036, rejected: 0 });
  await storeBars(h.db, slow, '1m', syntheticBars(40_000, 9, 60_000));
  await waitFor('both workers to report to /health', async () => (await h.app.inject({ method: 'GET', url: '/health' })).statusCode === 200, 60_000);
}, 90_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await h?.close();
});

test('scan --json through the API prints the document scan --local --json prints for the same bars', async () => {
  const flags = ['--type', 'optimization', '--grid', '{"fast":{"from":5,"to":30,"step":5},"slow":[50,100,200]}', '--constraint', 'fast < slow', '--objective', 'sharpe', '--walk-forward', '{"trainBars":1000,"testBars":500}', '--json'];
  const [remote, local] = await Promise.all([startCli(['scan', '--symbol', symbol, ...flags]).done, startCli(['scan', '--local', '--csv', ORCL, '--symbol', symbol, ...flags]).done]);
  expect({ code: remote.code, stderr: remote.stderr }).toEqual({ code: 0, stderr: '' });
  expect(local.code).toBe(0);
  expect(remote.stdout.trim().split('\n')).toHaveLength(1);
  const r = JSON.parse(remote.stdout);
  const l = JSON.parse(local.stdout);
  // the same keys in the same order; only where the bars came from differs
  expect(Object.keys(r)).toEqual(Object.keys(l));
  expect(r.data).toEqual({ ...l.data, file: null, rows: 5036, rejected: 0 });
  const { data: _rd, ...rest } = r;
  const { data: _ld, ...restLocal } = l;
  expect(JSON.stringify(rest)).toBe(JSON.stringify(restLocal));
  expect(r.folds.length).toBeGreaterThan(5);
});

test('scan without --json prints its tables; without --symbol it is a usage error', async () => {
  const { code, stdout } = await startCli(['scan', '--symbol', symbol, '--grid', '{"period":[10,20,30]}', '--top', '2']).done;
  expect(code).toBe(0);
  expect(stdout).toMatch(new RegExp(`^data\\s+${symbol} 1d \\(stored\\): 5036 bars`, 'm'));
  expect(stdout).toMatch(/cells \(3, best 2\)\nrank\s+cell\s+params/);
  const bad = await startCli(['scan', '--grid', '{"period":[5]}']).done;
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--symbol is required/);
  const refused = await startCli(['scan', '--symbol', symbol, '--grid', '{"perod":[5]}']).done;
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/grid\.perod: unknown parameter "perod"/);
});

test('Ctrl-C once asks the API to cancel the scan and waits for it to stop', async () => {
  const run = startCli(['scan', '--symbol', slow, '--timeframe', '1m', '--grid', '{"fast":{"from":2,"to":121,"step":1},"slow":{"from":200,"to":299,"step":1}}']);
  const id = await waitFor('the CLI to report the scan', async () => /stress scan (\S+): \d+ runs/.exec(run.stderr())?.[1], 20_000);
  await waitFor('the first batch to be stored', async () => {
    const r = await h.app.inject({ method: 'GET', url: `/v1/stress-scans/${id}?cells=0`, headers: { authorization: `Bearer ${TEST_KEYS.trader}` } });
    return r.json().progress.runsDone > 0;
  }, 60_000);
  run.child.kill('SIGINT');
  const { code, stderr } = await run.done;
  expect(code).toBe(130);
  expect(stderr).toMatch(/cancelling stress scan/);
  const job = await h.app.inject({ method: 'GET', url: `/v1/stress-scans/${id}?cells=0`, headers: { authorization: `Bearer ${TEST_KEYS.trader}` } });
  expect(job.json().status).toBe('cancelled');
}, 90_000);
