import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'test', '.artifacts', 'bench');

/**
 * `npm run bench -- <name> <args>` as its own process (tsx bench/run.ts) with only PATH, HOME, the given servers' URLs
 * and a results folder of the tests: its exit code, everything it printed, and the JSON it wrote (read when asked, so
 * a run that wrote none fails there). The previous run's JSON is removed first.
 */
export async function runBench(name: string, args: string[], servers: Record<string, string>): Promise<{ code: number | null; out: string; result: () => ReturnType<typeof JSON.parse> }> {
  const file = path.join(OUT, `${name}.json`);
  rmSync(file, { force: true });
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['bench/run.ts', name, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...servers, BENCH_RESULTS_DIR: OUT },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out, result: () => JSON.parse(readFileSync(file, 'utf8')) };
}
