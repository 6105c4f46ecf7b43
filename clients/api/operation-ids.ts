import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI operationId of every documented route, keyed "METHOD url" as the route is registered. Client
 * generators name their methods after these, so they read as verbs on the resource. One table rather than a line
 * in each route file: a new route without an entry stops the API at start-up (see installOperationIds).
 */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  'GET /health': 'getHealth',
  'GET /v1/bars': 'listBarSeries',
  'POST /v1/bars/import': 'importBars',
  'GET /v1/bars/candles': 'listBarCandles',
  'POST /v1/backtests': 'createBacktest',
  'GET /v1/backtests': 'listBacktests',
  'GET /v1/backtests/:id': 'getBacktest',
  'GET /v1/backtests/:id/trades': 'listBacktestTrades',
  'POST /v1/backtests/:id/cancel': 'cancelBacktest',
  'POST /v1/stress-scans': 'createStressScan',
  'GET /v1/stress-scans': 'listStressScans',
  'GET /v1/stress-scans/:id': 'getStressScan',
  'GET /v1/stress-scans/:id/cells': 'listStressScanCells',
  'POST /v1/stress-scans/:id/cancel': 'cancelStressScan',
  'POST /v1/deployments': 'createDeployment',
  'GET /v1/deployments': 'listDeployments',
  'GET /v1/deployments/:id': 'getDeployment',
  'GET /v1/deployments/:id/compare': 'compareDeployment',
  'GET /v1/deployments/:id/cycles': 'listDeploymentCycles',
  'POST /v1/deployments/:id/pause': 'pauseDeployment',
  'POST /v1/deployments/:id/resume': 'resumeDeployment',
  'POST /v1/deployments/:id/stop': 'stopDeployment',
  'POST /v1/deployments/:id/flatten': 'flattenDeployment',
  'POST /v1/deployments/:id/breaker-reset': 'resetDeploymentBreaker',
  'POST /v1/deployments/:id/params': 'updateDeploymentParams',
  'POST /v1/market-data/backfills': 'createMarketDataBackfill',
  'GET /v1/market-data/backfills': 'listMarketDataBackfills',
  'GET /v1/market-data/backfills/:id': 'getMarketDataBackfill',
  'GET /v1/market-data/feeds': 'listMarketDataFeeds',
  'GET /v1/market-data/quality': 'listMarketDataQuality',
  'GET /v1/market-data/events': 'listMarketDataEvents',
  'POST /v1/market-data/reports': 'buildMarketDataReport',
  'GET /v1/market-data/reports/:day': 'getMarketDataReport',
  'GET /v1/orders': 'listOrders',
  'GET /v1/fills': 'listFills',
  'GET /v1/positions': 'listPositions',
  'POST /v1/kill-switch': 'setKillSwitch',
  'GET /v1/kill-switch': 'getKillSwitch',
  'POST /v1/liquidations': 'createLiquidation',
  'GET /v1/liquidations': 'listLiquidations',
  'GET /v1/liquidations/:id': 'getLiquidation',
  'PUT /v1/liquidations/accounts/:accountId': 'setLiquidationAccount',
  'GET /v1/liquidations/accounts': 'listLiquidationAccounts',
  'GET /v1/daily-summaries': 'listDailySummaries',
  'GET /v1/reconciliation/findings': 'listReconciliationFindings',
  'POST /v1/reconciliation/findings/:id/resolve': 'resolveReconciliationFinding',
  'GET /v1/approvals': 'listApprovals',
  'GET /v1/approvals/:id': 'getApproval',
  'POST /v1/approvals/:id/approve': 'approveTrade',
  'POST /v1/approvals/:id/reject': 'rejectTrade',
  'GET /v1/maintenance/capacity': 'getCapacityReport',
  'GET /v1/maintenance/dead-letters': 'listDeadLetters',
  'POST /v1/maintenance/dead-letters/retry': 'retryDeadLetter',
  'POST /v1/maintenance/dead-letters/resolve': 'resolveDeadLetter',
  'GET /v1/maintenance/backups': 'listBackups',
  'GET /v1/maintenance/schedules': 'listSchedules',
  'POST /v1/maintenance/schedules/:id/pause': 'pauseSchedule',
  'POST /v1/maintenance/schedules/:id/resume': 'resumeSchedule',
  'POST /v1/maintenance/schedules/:id/trigger': 'triggerSchedule',
  'POST /v1/maintenance/settings/reload': 'reloadSettings',
};

/**
 * Gives every documented route its operationId from OPERATION_IDS. A documented route missing from the table
 * throws (the API does not start), as a route without roles does. HEAD routes (Fastify adds one per GET) and
 * hidden routes (docs UI, the approvals page) are not in the document and need none.
 */
export function installOperationIds(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const schema = (route.schema ?? {}) as { hide?: boolean; operationId?: string };
    if (schema.hide) return;
    const methods = [route.method].flat().filter((m) => m !== 'HEAD');
    if (methods.length === 0) return;
    // one schema per route: several methods on one route would share (and collide on) one operationId
    if (methods.length > 1) throw new Error(`route ${methods.join(',')} ${route.url}: register one route per method`);
    const key = `${methods[0]} ${route.url}`;
    const operationId = OPERATION_IDS[key];
    if (!operationId) throw new Error(`route ${key} has no operationId: add it to OPERATION_IDS in clients/api/operation-ids.ts`);
    route.schema = { ...schema, operationId };
  });
}
