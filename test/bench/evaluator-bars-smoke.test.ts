import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { testStack } from '../helpers/stack';

/**
 * `npm run bench -- evaluator-bars` at a small size, as its own process on the test Postgres and Redis: 20 symbols,
 * 2 closes each way. The held windows must equal the whole reads, and be read by tail after the first close. The
 * full run: 500 symbols, 5 closes.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'test', '.artifacts', 'bench');

test('evaluator-bars bench (smoke): held windows equal whole reads at every close, and only the first read of each is whole', async () => {
  const stack = testStack();
  rmSync(path.join(OUT, 'evaluator-bars.json'), { force: true });
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['bench/run.ts', 'evaluator-bars', '--symbols=20', '--rounds=2'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, BENCH_RESULTS_DIR: OUT },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
  const result = JSON.parse(readFileSync(path.join(OUT, 'evaluator-bars.json'), 'utf8'));
  expect(result).toMatchObject({ name: 'evaluator-bars', symbols: 20, windowBars: 300, rounds: 2, sameWindows: true, passed: true, windowStats: { wholeReads: 20, tailReads: 40, held: 20 } });
  expect(out).toMatch(/bar reads at 20 symbols x 300 bars, mean of 2 closes: whole \{.*\}; held \{.*\}; whole\/held \{.*\}; same windows: true/);
}, 180_000);
