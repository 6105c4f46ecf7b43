import { benchMonteCarlo } from './stress-mc';

/**
 * `npm run bench -- stress`: stress-scan benchmarks, writing bench/results/stress.json. For now the Monte Carlo
 * section; the durable scan's sections (API + Temporal + CPU worker against in-process, kills, 100k cells) come
 * with the stress-scan workflow.
 */
export async function benchStress(): Promise<Record<string, unknown>> {
  const monteCarlo = await benchMonteCarlo();
  return { passed: monteCarlo.passed, monteCarlo };
}
