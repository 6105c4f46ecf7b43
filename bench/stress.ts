import { benchDurableScans } from './stress-durable';
import { benchMonteCarlo } from './stress-mc';

/**
 * `npm run bench -- stress`: stress-scan benchmarks, writing bench/results/stress.json: the Monte Carlo kernel
 * (stress-mc.ts), then the durable scan through the API, Temporal and the CPU worker (stress-durable.ts).
 */
export async function benchStress(): Promise<Record<string, unknown>> {
  const monteCarlo = await benchMonteCarlo();
  const { passed: durablePassed, ...durable } = await benchDurableScans();
  return { passed: monteCarlo.passed === true && durablePassed === true, monteCarlo, ...durable };
}
