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
