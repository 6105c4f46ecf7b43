import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../activities/io';
import { createTradingMetrics } from '../platform/metrics';
import { ensureEodScheduler } from '../clients/liquidations';
import { ensureNotificationDispatcher } from '../services/notification-dispatcher';
import { ioDeps } from './io-deps';
import { baseWorkerOptions, workerMain } from './worker-process';

/** `npm run worker:io`: deployment runtimes, approvals, notifications and every activity with I/O, on the io queue. */
workerMain('io', async (p, connection) => {
  const deps = { ...ioDeps(p.config, p.logger, p.db, p.redis), metrics: p.metrics && createTradingMetrics(p.metrics) };
  p.onClose(() => deps.gatePool.end());
  // The outbox's dispatcher is one workflow for the whole platform; every IO worker makes sure it runs.
  await ensureNotificationDispatcher(p.client, { pollIntervalMs: p.config.NOTIFY_POLL_MS });
  // So is the end-of-day scheduler: its timers fire on whichever IO worker is alive.
  if (p.config.EOD_SCHEDULER === 'on') await ensureEodScheduler(p.client);
  return Worker.create({
    ...baseWorkerOptions(p, connection),
    activities: createIoActivities(deps),
    maxConcurrentActivityTaskExecutions: 100,
  });
});
