import type { Pool } from 'pg';
import { deploymentsByStatus, outboxBacklog, pendingApprovals } from '../../db/sql/platform-gauges';
import { createRegistry, scrapedGauge, serveMetrics, type MetricsServer } from '../../platform/metrics';

const OUTBOX_STATUSES = ['pending', 'sending', 'dead'];

/**
 * The API's Prometheus endpoint, on its own port (METRICS_PORT), never on the public API port: the platform's state
 * read from Postgres at each scrape (approvals pending and the oldest one's age, the outbox's backlog, deployments by
 * status) and Node's process metrics. Every status is reported, with 0 where none.
 */
export function serveApiMetrics(db: Pool, host: string, port: number): Promise<MetricsServer> {
  const registry = createRegistry('api');
  scrapedGauge(registry, 'approvals_pending', 'trade approvals waiting for a decision', [], async () => [{ value: (await pendingApprovals(db)).count }]);
  scrapedGauge(registry, 'approval_oldest_pending_age_seconds', 'age of the oldest pending approval (0 when none)', [], async () => [{ value: (await pendingApprovals(db)).oldestAgeSeconds }]);
  scrapedGauge(registry, 'outbox_notifications', 'notifications not sent, by outbox status', ['status'], async () => {
    const counts = new Map((await outboxBacklog(db)).map((r) => [r.status, r.count]));
    return OUTBOX_STATUSES.map((status) => ({ labels: { status }, value: counts.get(status) ?? 0 }));
  });
  scrapedGauge(registry, 'deployments', 'deployments by status', ['status'], async () => (await deploymentsByStatus(db)).map((r) => ({ labels: { status: r.status }, value: r.count })));
  return serveMetrics({ host, port, registry });
}
