import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLocalBacktest } from '../../clients/cli/local-backtest';
import { CliError } from '../../clients/cli/errors';
import { runBacktest } from '../../domain/backtest/engine';
import { parseBacktestSettings } from '../../domain/backtest/settings';
import { sliceBars } from '../../domain/bars';
import { parseOhlcvCsv } from '../../domain/csv';
import { SHARED_DATA } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '..', '..');
const ORCL = path.join(SHARED_DATA, 'orcl-1995-2014.txt');

/** Runs the CLI and collects its output (no shell). */
function cli(args: string[], opts: { npx?: boolean; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, argv, env] = opts.npx ? ['npx', ['--no-install', 'tsx', 'clients/cli/main.ts', ...args], {}] : [process.execPath, cliArgs(args), CLI_ENV];
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...env, PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Bars of the parsed file with open times in [from, to]. */
function window(text: string, fromMs: number, toMs: number, tz?: string) {
  const parsed = parseOhlcvCsv(text, { timeZone: tz });
  let lo = 0;
  while (lo < parsed.bars.length && parsed.bars.ts[lo] < fromMs) lo++;
  let hi = lo;
  while (hi < parsed.bars.length && parsed.bars.ts[hi] <= toMs) hi++;
  return sliceBars(parsed.bars, lo, hi);
}

describe('runLocalBacktest', () => {
  const text = readFileSync(ORCL, 'utf8');

  test('orcl with sma-cross equals the engine on the same window; --to covers its whole day', async () => {
    const settings = { strategy: 'sma-cross', params: { fast: 10, slow: 30 }, commissionRate: 0.001, initialCash: 10_000, quantity: 1 };
    const r = await runLocalBacktest({ csv: ORCL, from: '2000-01-01', to: '2010-12-31', settings });
    const bars = window(text, Date.UTC(2000, 0, 1), Date.UTC(2010, 11, 31, 23, 59, 59, 999));
    const expected = runBacktest(bars, parseBacktestSettings(settings));

    expect(r.bars).toBe(bars.length);
    expect(r.data).toMatchObject({ rows: 5036, rejected: 0 });
    expect(r.finalEquity).toBeCloseTo(expected.finalEquity, 9);
    expect(r.cash).toBeCloseTo(expected.cash, 9);
    expect(r.position).toBe(expected.position);
    expect(r.trades).toEqual(expected.trades);
    expect(r.metrics).toEqual(expected.metrics);
    expect(r.assumptions).toMatchObject({ strategy: 'sma-cross', params: { fast: 10, slow: 30 }, fillRule: 'next-open', sizing: { mode: 'fixed-quantity', quantity: 1 } });
    expect(r.trades.length).toBeGreaterThan(10);
    for (const t of r.trades) {
      expect(['buy', 'sell']).toContain(t.side);
      expect(t.time >= '2000-01-01' && t.time <= '2010-12-31T23:59:59.999Z').toBe(true);
    }
  });

  test('the default sizing is 95 % of equity per entry in whole shares, stated in the result; --size keeps a fixed quantity', async () => {
    const sized = await runLocalBacktest({ csv: ORCL, from: '2000-01-01', to: '2010-12-31', settings: { strategy: 'sma-cross' } });
    expect(sized.assumptions.sizing).toEqual({ mode: 'equity-fraction', fraction: 0.95 });
    const first = sized.trades[0];
    expect(first.side).toBe('buy');
    expect(first.qty).toBe(Math.floor((0.95 * 10_000) / first.price));
    // results move with the strategy: the whole position, not one share's price change
    expect(Math.abs(sized.finalEquity - 10_000)).toBeGreaterThan(100);
    const fixed = await runLocalBacktest({ csv: ORCL, from: '2000-01-01', to: '2010-12-31', settings: { strategy: 'sma-cross', quantity: 1 } });
    expect(fixed.assumptions.sizing).toEqual({ mode: 'fixed-quantity', quantity: 1 });
    expect(fixed.trades.every((t) => t.qty === 1)).toBe(true);

    const text = await cli(['backtest', '--local', '--csv', ORCL, '--to', '2003-12-31']);
    expect(text.stdout).toMatch(/^sizing +95 % of equity per entry \(whole shares\)$/m);
    const fixedText = await cli(['backtest', '--local', '--csv', ORCL, '--to', '2003-12-31', '--size', '3']);
    expect(fixedText.stdout).toMatch(/^sizing +fixed 3 per entry$/m);
    const both = await cli(['backtest', '--local', '--csv', ORCL, '--size', '3', '--equity-fraction', '0.5']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/quantity: give quantity \(a fixed quantity\) or sizing, not both/);
  });

  test('date bounds are whole local days in --tz', async () => {
    const settings = { strategy: 'sma-cross' };
    // orcl's last bar is 2014-12-31: in New York that is 05:00 UTC, so --to 2014-12-31 must include it either way
    for (const tz of ['UTC', 'America/New_York', 'Asia/Tokyo']) {
      const all = await runLocalBacktest({ csv: ORCL, tz, settings });
      const upTo = await runLocalBacktest({ csv: ORCL, tz, to: '2014-12-31', settings });
      expect(upTo.bars).toBe(all.bars);
      const dayBefore = await runLocalBacktest({ csv: ORCL, tz, to: '2014-12-30', settings });
      expect(dayBefore.bars).toBe(all.bars - 1);
      const oneDay = await runLocalBacktest({ csv: ORCL, tz, from: '2014-12-31', to: '2014-12-31', settings });
      expect(oneDay.bars).toBe(1);
    }
  });

  test('usage errors: from after to, bad dates, bad zone, bad settings', async () => {
    const base = { csv: ORCL, settings: { strategy: 'sma-cross' } };
    const cases: Array<[Parameters<typeof runLocalBacktest>[0], RegExp, number]> = [
      [{ ...base, from: '2012-01-01', to: '2011-01-01' }, /after/, 2],
      [{ ...base, from: '2012-02-30' }, /not a valid date/, 2],
      [{ ...base, to: 'yesterday' }, /--to must be a date/, 2],
      [{ ...base, tz: 'Mars/Olympus' }, /time zone/, 2],
      [{ ...base, settings: { strategy: 'sma-cross', params: { fast: 30, slow: 10 } } }, /invalid backtest settings/, 2],
      [{ ...base, from: '1980-01-01', to: '1980-12-31' }, /no bars between/, 1],
      [{ ...base, csv: '/nonexistent/file.csv' }, /cannot read/, 1],
    ];
    for (const [opts, message, exitCode] of cases) {
      const err = await runLocalBacktest(opts).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).message).toMatch(message);
      expect((err as CliError).exitCode).toBe(exitCode);
    }
    const bad = await runLocalBacktest({ ...base, settings: { strategy: 'sma-cross', params: { fast: 30, slow: 10 } } }).catch((e: CliError) => e);
    expect((bad as CliError).details.join('\n')).toMatch(/params\.fast/);
  });

  test('a CSV with a bad header is a one-line error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-test-'));
    const file = path.join(dir, 'bad.csv');
    writeFileSync(file, 'when,price\n2020-01-01,1\n');
    await expect(runLocalBacktest({ csv: file, settings: { strategy: 'sma-cross' } })).rejects.toThrow(/unrecognised CSV header/);
  });
});

describe('npm run cli -- backtest --local', () => {
  test('--json prints exactly one JSON object with the result', async () => {
    const args = ['backtest', '--local', '--csv', ORCL, '--json', '--from', '2005-01-01', '--to', '2014-12-31', '--strategy', 'sma-cross', '--params', '{"fast":10,"slow":30}', '--cash', '5000', '--size', '2', '--commission', '0.0005', '--slippage-bps', '1'];
    const { code, stdout, stderr } = await cli(args, { npx: true });
    expect({ code, stderr: stderr.replace(/^npm warn.*\n/gm, '') }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(stdout) as Record<string, unknown> & { trades: Array<Record<string, unknown>>; metrics: Record<string, unknown> };
    expect(stdout.trim().split('\n')).toHaveLength(1);
    for (const key of ['finalEquity', 'cash', 'position', 'trades', 'metrics', 'bars', 'assumptions']) expect(out).toHaveProperty(key);
    expect(out.trades.length).toBeGreaterThan(0);
    for (const t of out.trades) {
      expect(t).toEqual(expect.objectContaining({ side: expect.stringMatching(/^(buy|sell)$/), time: expect.any(String), price: expect.any(Number), qty: 2 }));
    }
    expect(out.assumptions).toMatchObject({ initialCash: 5000, sizing: { mode: 'fixed-quantity', quantity: 2 }, commissionRate: 0.0005, slippageBps: 1 });

    const same = await runLocalBacktest({
      csv: ORCL,
      from: '2005-01-01',
      to: '2014-12-31',
      settings: { strategy: 'sma-cross', params: { fast: 10, slow: 30 }, initialCash: 5000, quantity: 2, commissionRate: 0.0005, slippageBps: 1 },
    });
    expect(out.finalEquity).toBeCloseTo(same.finalEquity, 9);
    expect(out.bars).toBe(same.bars);
    expect(out.trades).toHaveLength(same.trades.length);
  });

  test.each([
    [['--cash', 'abc'], 2, /--cash/],
    [['--params', '{bad json'], 2, /--params must be JSON/],
    [['--strategy', 'moon'], 2, /moon/],
    [['--params', '{"fast":30,"slow":10}'], 2, /params\.fast/],
    [['--from', '2014-02-30'], 2, /not a valid date/],
    [['--bogus'], 2, /unknown option/],
  ])('bad flags %j exit %i with a message and no stack', async (extra, exitCode, message) => {
    const { code, stdout, stderr } = await cli(['backtest', '--local', '--csv', ORCL, '--json', ...(extra as string[])]);
    expect(code).toBe(exitCode);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message as RegExp);
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  test('a missing file exits 1 with one line', async () => {
    const { code, stderr } = await cli(['backtest', '--local', '--csv', '/nonexistent/orcl.csv']);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual(['error: cannot read /nonexistent/orcl.csv: no such file']);
  });
});
