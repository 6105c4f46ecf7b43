/**
 * `npm run bench -- marketdata` at a small size (50 symbols, one bar close on a clock at 10x, a 50,000-bar backfill),
 * so the benchmark's code cannot rot: it runs as users run it (a child process), and its JSON has the shape and
 * positive figures the README describes. No time goal is checked here (`passed` is the full run's business).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/paths';
import { testStack } from '../helpers/stack';

jest.setTimeout(600_000);

function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(REPO_ROOT, 'bench', 'run.ts'), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const positive = expect.any(Number);

test('the marketdata benchmark runs small and writes its figures', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-md-'));
  try {
    // Postgres of the test stack (the bench makes and drops its own database); its own Redis and Temporal dev server,
    // so its feed workflow and its IO worker meet nothing another test left on the shared ones.
    const { REDIS_URL: _r, TEMPORAL_ADDRESS: _t, ...rest } = process.env;
    const env = { ...rest, DATABASE_URL: testStack().DATABASE_URL, WORKFLOW_BUNDLE_DIR: testStack().WORKFLOW_BUNDLE_DIR, BENCH_RESULTS_DIR: dir };
    const { code, output } = await runBench(['marketdata', '--symbols=50', '--closes=1', '--speed=10', '--settle-ms=2000', '--bars=50000'], env);
    expect(output).not.toMatch(/bench failed/);
    expect([0, 1]).toContain(code); // 1: a time goal missed on a loaded machine, not checked here
    const r = JSON.parse(readFileSync(path.join(dir, 'marketdata.json'), 'utf8'));
    expect(r).toMatchObject({ name: 'marketdata', symbols: 50, clockSpeed: 10, settleMs: 2000, complete: true, passed: expect.any(Boolean), goal: { p99Ms: 2000 } });
    for (const k of ['p50Ms', 'p99Ms']) expect(r[k]).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
    expect(r.feedRounds).toHaveLength(1);
    expect(r.feedRounds[0]).toMatchObject({ settleMs: 2000, closesMeasured: 1, count: 50, expectedBars: 50, storedInPostgres: 50, cachedAtLastClose: 50, requests: positive });
    expect(r.feedRounds[0].perClose.map((c: { warmUp: boolean }) => c.warmUp)).toEqual([true, false]);
    expect(r.backfill).toMatchObject({ bars: 50_000 });
    for (const k of ['backfillRowsPerSec', 'writerRowsPerSec', 'plainCopyRowsPerSec', 'ratioToPlainCopy', 'writerRatioToPlainCopy']) expect(r.backfill[k]).toBeGreaterThan(0);
    expect(r.loadAverage1m.length).toBeGreaterThanOrEqual(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
