import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBacktest } from '../../domain/backtest/engine';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { parseOhlcvCsv } from '../../domain/csv';
import type { ScanResult } from '../../domain/scan/scan';
import { SHARED_DATA } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '..', '..');
const ORCL = path.join(SHARED_DATA, 'orcl-1995-2014.txt');
const NVDA = path.join(SHARED_DATA, 'nvda-1999-2014.txt');

/** Runs `cli scan ...` (no shell) and collects its output. */
function scan(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, cliArgs(['scan', ...args]), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

type ScanDoc = ScanResult & { from: string | null; to: string | null; data: { rows: number; rejected: number } };

async function json(args: string[]): Promise<ScanDoc> {
  const { code, stdout, stderr } = await scan([...args, '--json']);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' }); // no progress bar when stderr is not a terminal
  expect(stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(stdout) as ScanDoc;
}

const metricsKeys = ['totalReturn', 'cagr', 'sharpe', 'sortino', 'maxDrawdown', 'winRate', 'profitFactor', 'trades'];

describe('npm run cli -- scan --local', () => {
  test('param_scan: one JSON document whose cells are the grid\'s backtests, ranked', async () => {
    const out = await json(['--local', '--csv', ORCL, '--grid', '{"fast":[5,10,20],"slow":{"from":30,"to":60,"step":30}}', '--constraint', 'fast < slow', '--objective', 'sharpe', '--size', '20', '--from', '2000-01-01', '--to', '2010-12-31']);
    expect(out).toMatchObject({ type: 'param_scan', from: '2000-01-01', to: '2010-12-31', data: { rows: 5036, rejected: 0 } });
    expect(out.cells).toHaveLength(6);
    for (const c of out.cells) {
      expect(Object.keys(c.params)).toEqual(['fast', 'slow']);
      expect(c).toEqual(expect.objectContaining({ finalEquity: expect.any(Number), cash: expect.any(Number), trades: expect.any(Number), rank: expect.any(Number) }));
      for (const k of metricsKeys) expect(c.metrics).toHaveProperty(k);
    }
    // the best cell equals a plain backtest of its parameters on the same window
    const best = out.cells[0];
    const all = parseOhlcvCsv(readFileSync(ORCL, 'utf8')).bars;
    let lo = 0;
    while (all.ts[lo] < Date.UTC(2000, 0, 1)) lo++;
    let hi = lo;
    while (hi < all.length && all.ts[hi] < Date.UTC(2011, 0, 1)) hi++;
    const window = { ...all, length: hi - lo, ts: all.ts.subarray(lo, hi), open: all.open.subarray(lo, hi), high: all.high.subarray(lo, hi), low: all.low.subarray(lo, hi), close: all.close.subarray(lo, hi), volume: all.volume.subarray(lo, hi) };
    const r = runBacktest(window, parseBacktestSettings({ strategy: 'sma-cross', params: best.params, quantity: 20 }));
    expect(best.finalEquity).toBeCloseTo(r.finalEquity, 9);
    expect(best.trades).toBe(r.trades.length);
    expect(out.cells.map((c) => c.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.assumptions).toMatchObject({ paramsVersion: expect.stringMatching(/^p1-/), seed: null, sizing: { mode: 'fixed-quantity', quantity: 20 } });
  });

  test('walk-forward on NVDA: folds with their windows, in-sample and out-of-sample results', async () => {
    const out = await json(['--local', '--csv', NVDA, '--type', 'optimization', '--grid', '{"period":{"from":5,"to":44,"step":1}}', '--walk-forward', '{"trainBars":500,"testBars":250,"warmupBars":0}']);
    expect(out.cells).toHaveLength(40);
    expect(out.folds).toHaveLength(14); // floor((4012 - 500 - 250) / 250) + 1
    for (const f of out.folds!) {
      expect(f).toEqual(expect.objectContaining({ params: { period: expect.any(Number) }, trainFrom: expect.any(String), trainTo: expect.any(String), testFrom: expect.any(String), testTo: expect.any(String) }));
      for (const side of [f.inSample, f.outOfSample]) {
        expect(side.finalEquity).toEqual(expect.any(Number));
        for (const k of metricsKeys) expect(side.metrics).toHaveProperty(k);
      }
      expect(f.testFrom > f.trainTo).toBe(true);
    }
    expect(out.folds![0]).toMatchObject({ trainFrom: '1999-01-22T00:00:00.000Z', bars: { trainFrom: 0, trainTo: 500, testFrom: 500, testTo: 750 } });
    expect(out.walkForward).toEqual(expect.objectContaining({ folds: 14, paramStability: expect.objectContaining({ score: expect.any(Number) }) }));
    expect(out.walkForward!.stitched.equity.length).toBeGreaterThan(100);
  });

  test('monte_carlo on ORCL: quantiles per method, the same twice with a seed', async () => {
    const args = ['--local', '--csv', ORCL, '--type', 'monte_carlo', '--params', '{"fast":10,"slow":30}', '--size', '100', '--paths', '300', '--seed', '3', '--loss-threshold', '0.05'];
    const a = await json(args);
    expect(Object.keys(a.monteCarlo!)).toEqual(['roundTrips', 'shuffle', 'bootstrap', 'blockBootstrap']);
    for (const m of ['shuffle', 'bootstrap', 'blockBootstrap'] as const) {
      const s = a.monteCarlo![m]!;
      expect(s.paths).toBe(300);
      expect(s.finalReturn.p5).toBeLessThanOrEqual(s.finalReturn.p50);
      expect(s.maxDrawdown.p50).toBeLessThanOrEqual(s.maxDrawdown.p95);
      expect(s.lossThreshold).toBe(0.05);
    }
    expect(a.cells).toHaveLength(1);
    expect(a.assumptions.seed).toBe(3);
    expect((await json(args)).monteCarlo).toEqual(a.monteCarlo);
  });

  test('black_swan on NVDA 1999-2014: each crisis window it covers, and the shocks', async () => {
    const out = await json(['--local', '--csv', NVDA, '--type', 'black_swan', '--params', '{"fast":10,"slow":30}', '--size', '100', '--shocks', '[{"kind":"gap","pct":0.2,"at":"2008-10-01"},{"kind":"volatility","factor":3,"from":"2008-09-01","to":"2008-12-31"}]']);
    expect(out.blackSwan!.crises.map((c) => c.id)).toEqual(['dot-com-crash', 'sept-11', 'gfc-2008', 'lehman-2008', 'flash-crash-2010', 'us-downgrade-2011']);
    for (const c of out.blackSwan!.crises) {
      expect(c.strategy).toEqual(expect.objectContaining({ maxDrawdown: expect.any(Number), recovered: expect.any(Boolean), underwaterBars: expect.any(Number) }));
      expect(c.instrument.maxDrawdown).toBeGreaterThan(0.05); // NVDA fell in every one of them
    }
    expect(out.blackSwan!.shocks.map((s) => [s.shock.kind, s.from.slice(0, 10)])).toEqual([
      ['gap', '2008-10-01'],
      ['volatility', '2008-09-02'], // the first bar on or after Sep 1 (Labor Day)
    ]);
  });

  test('without --json: readable tables', async () => {
    const { code, stdout } = await scan(['--local', '--csv', ORCL, '--grid', '{"period":[10,20]}', '--top', '1']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^data\s+.*orcl-1995-2014.txt: 5036 bars/m);
    expect(stdout).toMatch(/cells \(2, best 1\)\nrank\s+cell\s+params/);
  });

  test.each([
    [['--grid', '{}'], /grid: param_scan needs a grid/],
    [['--grid', '{"fast":{"from":1,"to":10000,"step":1},"slow":{"from":1,"to":1000,"step":1}}'], /the grid has 10,000,000 cells \(10000 fast x 1000 slow\); the limit is 100,000/],
    [['--type', 'optimization', '--grid', '{"period":[5,6]}', '--walk-forward', '{"trainBars":6000,"testBars":250}'], /the train window \(6000 bars\) is longer than the data \(5036 bars\)/],
    [['--grid', '{"perod":[5,6]}'], /unknown parameter "perod" for strategy sma-cross/],
    [['--grid', '{"fast":[5,50],"slow":[30]}'], /fast \(50\) must be smaller than slow \(30\); add a constraint/],
    [['--grid', '{"period":[5]}', '--objective', 'luck'], /argument 'luck' is invalid/],
  ])('bad input %j: exit 2 with a clear message', async (extra, message) => {
    const { code, stdout, stderr } = await scan(['--local', '--csv', ORCL, '--json', ...(extra as string[])]);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(message as RegExp);
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  test('a progress bar on stderr when it is a terminal (script(1) gives the command a pseudo-terminal)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'scan-tty-'));
    const cmd = `node_modules/.bin/tsx clients/cli/main.ts scan --local --csv ${ORCL} --grid '{"period":{"from":5,"to":100,"step":1}}' --json > ${dir}/out.json`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tty = '';
    child.stdout.on('data', (d: Buffer) => (tty += d.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(tty).toMatch(/scan \|[█░]+\| 100% \| 96\/96 runs/);
    expect(JSON.parse(readFileSync(`${dir}/out.json`, 'utf8')).cells).toHaveLength(96); // stdout still holds just the document
  });

  test('scan without --local needs a stored series', async () => {
    const { code, stderr } = await scan(['--grid', '{"period":[5]}']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--symbol is required.*--local --csv/);
  });
});
