import { createBacktestActivities } from './backtest';
import type { CpuDeps } from './ports';

/** Every activity the CPU worker registers. */
export function createCpuActivities(deps: CpuDeps) {
  return {
    ...createBacktestActivities(deps),
  };
}
export type CpuActivities = ReturnType<typeof createCpuActivities>;
