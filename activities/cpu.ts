import { createBacktestActivities } from './backtest';
import type { BarCache } from './bar-cache';
import type { CpuDeps } from './ports';
import { createStressScanActivities } from './stress-scan';

/** Every activity the CPU worker registers; `barCache` is the process's cache of loaded series (stress scans). */
export function createCpuActivities(deps: CpuDeps & { barCache?: BarCache }) {
  return {
    ...createBacktestActivities(deps),
    ...createStressScanActivities(deps),
  };
}
export type CpuActivities = ReturnType<typeof createCpuActivities>;
