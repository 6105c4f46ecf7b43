import path from 'node:path';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, type PrivateStack } from '../harness/stack';

export type BenchStack = PrivateStack;

/** Real servers for a benchmark (private ones under .local/bench unless their URLs are given), fresh database per run. */
export function benchStack(opts: { temporal: boolean; redis: boolean }): Promise<BenchStack> {
  return privateStack({ ...opts, dir: path.join(LOCAL_DIR, 'bench'), dbPrefix: 'bench' });
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** `--name=N` from the command line: a whole number in 1..max, else `dflt` when absent; anything else throws. */
export function intArg(name: string, dflt: number, max: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg ? Number(arg.slice(name.length + 3)) : dflt;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be a whole number in 1..${max}, got ${arg}`);
  return n;
}
