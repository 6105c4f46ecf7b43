import { createDeploymentActivities } from './deployments';
import { createJobActivities } from './jobs';
import { createMarketDataActivities } from './market-data';
import { createOrderActivities } from './orders';
import type { IoDeps } from './ports';

/** Every activity the IO worker registers. */
export function createIoActivities(deps: IoDeps) {
  return {
    ...createJobActivities(deps),
    ...createOrderActivities(deps),
    ...createMarketDataActivities(deps),
    ...createDeploymentActivities(deps),
  };
}
export type IoActivities = ReturnType<typeof createIoActivities>;
