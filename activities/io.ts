import { createApprovalActivities } from './approvals';
import { createCycleActivities } from './cycle';
import { createDeploymentActivities } from './deployments';
import { createJobActivities } from './jobs';
import { createMarketDataActivities } from './market-data';
import { createNotificationActivities } from './notifications';
import { createOrderActivities } from './orders';
import type { IoDeps } from './ports';

/** Every activity the IO worker registers. */
export function createIoActivities(deps: IoDeps) {
  const orders = createOrderActivities(deps);
  const marketData = createMarketDataActivities(deps);
  const deployments = createDeploymentActivities(deps);
  return {
    ...createJobActivities(deps),
    ...orders,
    ...marketData,
    ...deployments,
    ...createCycleActivities({ syncOrders: orders.syncOrders, loadRecentBars: marketData.loadRecentBars, loadRiskSnapshot: deployments.loadRiskSnapshot }),
    ...createNotificationActivities(deps),
    ...createApprovalActivities(deps),
  };
}
export type IoActivities = ReturnType<typeof createIoActivities>;
