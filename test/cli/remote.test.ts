import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runLocalBacktest } from '../../clients/cli/local-backtest';
import { startApi, type ApiHarness } from '../api/harness';
import { uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, TEST_KEYS, testStack } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/** The CLI against a listening API with both workers running: the commands that mirror the HTTP API. */
const ROOT = path.resolve(__dirname, '..', '..');
const MINUTES = path.join(SHARED_DATA, '2006-01-02-volume-min-001.txt');

let h: ApiHarness;
let apiUrl: string;
let workers: RunningProcess[] = [];
const symbol = uniqueSymbol('CLI');

function startCli(args: string[], key: string | undefined = TEST_KEYS.trader, url?: string): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: url ?? apiUrl, ...(key ? { API_KEY: key } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

const cli = (args: string[], key?: string, url?: string) => startCli(args, key, url).done;

beforeAll(async () => {
  const stack = testStack();
  const env = {
    DATABASE_URL: stack.DATABASE_URL,
    REDIS_URL: stack.REDIS_URL,
    TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR,
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '2000',
    SHUTDOWN_FORCE_MS: '5000',
  };
  workers = [startWorker('cpu', env), startWorker('io', env)];
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  await waitFor('both workers to report to /health', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/health' });
    return res.statusCode === 200;
  });
}, 90_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await h?.close();
});

test('health', async () => {
  const { code, stdout } = await cli(['health']);
  expect(code).toBe(0);
  expect(stdout).toMatch(/^status: up/);
  expect(stdout).toMatch(/workers\s+yes\s+cpu \d+, io \d+/);
});

test('import streams a file and prints the counts; bars lists the series', async () => {
  const first = await cli(['import', MINUTES, '--symbol', symbol, '--timeframe', '1m', '--json']);
  expect(first.code).toBe(0);
  expect(JSON.parse(first.stdout)).toMatchObject({ symbol, timeframe: '1m', accepted: 30_889, inserted: 30_889, duplicates: 0, rejected: 0 });

  const again = await cli(['import', MINUTES, '--symbol', symbol, '--timeframe', '1m']);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/inserted\s+0\n/);
  expect(again.stdout).toMatch(/duplicates\s+30889\n/);

  const bars = await cli(['bars', '--json'], TEST_KEYS.viewer);
  expect(bars.code).toBe(0);
  expect(JSON.parse(bars.stdout).series).toContainEqual(expect.objectContaining({ symbol, timeframe: '1m', bars: 30_889 }));
});

test('a partial import: a banner on stderr and exit 1; with --allow-rejects exit 0; --json stdout stays one JSON document', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-partial-'));
  const file = path.join(dir, 'bars.csv');
  const rows = Array.from({ length: 30 }, (_, d) => `${new Date(Date.UTC(2020, 0, 1 + d)).toISOString().slice(0, 10)},10,10.2,9.8,10,100`);
  rows[12] = '2020-01-13,10,1e15,9.8,1e15,100'; // line 14
  writeFileSync(file, ['Date,Open,High,Low,Close,Volume', ...rows].join('\n'));
  const partialSymbol = uniqueSymbol('PART');
  try {
    const refused = await cli(['import', file, '--symbol', partialSymbol]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/rejected\s+1 \(1 price outliers, 0 dated in the future\)/);
    expect(refused.stdout).toMatch(/line 14: price outlier: close 1e\+15/);
    expect(refused.stderr).toMatch(/^!{78}\n!! PARTIAL IMPORT: 1 row\(s\) of .*bars\.csv were REJECTED and are not stored\./m);
    expect(refused.stderr).toMatch(/^error: partial import: 1 rows of .* were not imported \(pass --allow-rejects to accept that\)$/m);

    const allowed = await cli(['import', file, '--symbol', partialSymbol, '--allow-rejects', '--json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ accepted: 29, inserted: 0, duplicates: 29, rejected: 1, outliers: 1, complete: false });
    expect(allowed.stderr).toMatch(/PARTIAL IMPORT/);
    expect(allowed.stderr).not.toMatch(/^error:/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('backtest waits for the workflow and prints one JSON object equal to the in-process run', async () => {
  const params = '{"fast":5,"slow":20}';
  const { code, stdout, stderr } = await cli(['backtest', '--symbol', symbol, '--timeframe', '1m', '--params', params, '--from', '2006-01-10', '--to', '2006-01-20', '--json']);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const out = JSON.parse(stdout) as { id: string; status: string; finalEquity: number; bars: number; trades: Array<Record<string, unknown>>; tradeCount: number; assumptions: Record<string, unknown> };
  expect(out.status).toBe('completed');
  expect(out.trades).toHaveLength(out.tradeCount);
  // the default sizing, stated in the result: whole shares worth 95 % of equity (about 2 of this ~3600 index)
  expect(out.assumptions.sizing).toEqual({ mode: 'equity-fraction', fraction: 0.95 });
  expect(out.trades[0]).toEqual(expect.objectContaining({ side: 'buy', time: expect.any(String), price: expect.any(Number), qty: Math.floor((0.95 * 10_000) / (out.trades[0].price as number)) }));

  const local = await runLocalBacktest({ csv: MINUTES, from: '2006-01-10', to: '2006-01-20', settings: { strategy: 'sma-cross', params: JSON.parse(params) } });
  expect(out.bars).toBe(local.bars);
  expect(out.finalEquity).toBeCloseTo(local.finalEquity, 6);
  expect(out.trades.map((t) => [t.side, t.time, t.qty])).toEqual(local.trades.map((t) => [t.side, t.time, t.qty]));

  const show = await cli(['backtests', 'show', out.id], TEST_KEYS.viewer);
  expect(show.code).toBe(0);
  expect(show.stdout).toMatch(/status\s+completed/);
  expect(show.stdout).toMatch(/final equity/);

  const list = await cli(['backtests', 'list', '--json', '--limit', '50'], TEST_KEYS.viewer);
  expect(JSON.parse(list.stdout).jobs.map((j: { id: string }) => j.id)).toContain(out.id);

  const cancel = await cli(['backtests', 'cancel', out.id]);
  expect(cancel.code).toBe(1);
  expect(cancel.stderr).toMatch(/already completed \(HTTP 409/);
});

test('--no-wait prints the job and returns', async () => {
  const { code, stdout } = await cli(['backtest', '--symbol', symbol, '--timeframe', '1m', '--no-wait', '--json']);
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ status: 'queued', workflowId: expect.stringMatching(/^backtest-/) });
});

test('API errors: validation issues with paths (exit 2), wrong role, no key, no server (exit 1)', async () => {
  const invalid = await cli(['backtest', '--symbol', symbol, '--params', '{"fast":30,"slow":10}', '--from', '2010-01-02', '--to', '2010-01-01']);
  expect(invalid.code).toBe(2);
  expect(invalid.stderr).toMatch(/^error: invalid request body \(HTTP 400 invalid_request\)$/m);
  expect(invalid.stderr).toMatch(/^ {2}params\.fast: /m);
  expect(invalid.stderr).toMatch(/^ {2}from: /m);

  const viewer = await cli(['backtest', '--symbol', symbol], TEST_KEYS.viewer);
  expect(viewer.code).toBe(1);
  expect(viewer.stderr).toMatch(/role viewer may not .*HTTP 403/);

  const noKey = await cli(['bars']);
  expect(noKey.code).toBe(0); // a key was given through API_KEY
  const missing = await cli(['bars'], '');
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/no API key given/);

  const down = await cli(['health'], undefined, 'http://127.0.0.1:9');
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/cannot reach the API at http:\/\/127\.0\.0\.1:9/);
  expect(down.stderr).not.toMatch(/\n\s+at /);
});

test('Ctrl-C while waiting asks the API to cancel; a second Ctrl-C stops waiting (exit 130)', async () => {
  // With the CPU worker gone the job stays queued, so the cancel request is what we can observe.
  const cpu = workers[0];
  expect(await cpu.stop('SIGTERM')).toBe(0);
  const run = startCli(['backtest', '--symbol', symbol, '--timeframe', '1m']);
  const queued = await waitFor('the CLI to report the queued job', async () => /backtest (\S+) queued/.exec(run.stderr())?.[1], 20_000);
  run.child.kill('SIGINT');
  const handle = h.deps.temporal.workflow.getHandle(`backtest-${queued}`);
  await waitFor('the cancel request to reach the workflow', async () => {
    const history = await handle.fetchHistory();
    return history.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes) ?? false;
  }, 20_000);
  run.child.kill('SIGINT');
  const { code, stderr } = await run.done;
  expect(code).toBe(130);
  expect(stderr).toMatch(/cancelling backtest/);
  await handle.terminate('test cleanup').catch(() => undefined);
});
