import { createApprovalActivities } from './approvals';
import { createDeploymentActivities } from './deployments';
import { createJobActivities } from './jobs';
import { createMarketDataActivities } from './market-data';
import { createNotificationActivities } from './notifications';
import { createOrderActivities } from './orders';
import type { IoDeps } from './ports';

/** Every activity the IO worker registers. */
export function createIoActivities(deps: IoDeps) {
  return {
    ...createJobActivities(deps),
    ...createOrderActivities(deps),
    ...createMarketDataActivities(deps),
    ...createDeploymentActivities(deps),
    ...createNotificationActivities(deps),
    ...createApprovalActivities(deps),
  };
}
export type IoActivities = ReturnType<typeof createIoActivities>;
