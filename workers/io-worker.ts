import { Worker } from '@temporalio/worker';
import { createIoActivities } from '../activities/io';
import { createTradingMetrics } from '../platform/metrics';
import { ensurePeriodicWork } from '../platform/schedules';
import { ensureEodScheduler } from '../services/liquidations';
import { ensureNotificationDispatcher } from '../services/notification-dispatcher';
import { listenForEnqueuedNotifications } from '../services/outbox-listener';
import { ioDeps } from './io-deps';
import { maintenanceDeps } from './maintenance-deps';
import { baseWorkerOptions, workerMain } from './worker-process';

/** `npm run worker:io`: deployment runtimes, approvals, notifications and every activity with I/O, on the io queue. */
workerMain('io', async (p, connection) => {
  const deps = {
    ...ioDeps(p.config, p.logger, p.db, p.redis),
    metrics: p.metrics && createTradingMetrics(p.metrics),
    maintenance: maintenanceDeps(p.config, p.client),
  };
  p.onClose(() => deps.gatePool.end());
  p.settings.add(deps.prepareReload);
  // The outbox's dispatcher is one workflow for the whole platform; every IO worker makes sure it runs.
  await ensureNotificationDispatcher(p.client, { pollIntervalMs: p.config.NOTIFY_POLL_MS });
  // Rows enqueued anywhere wake it at once; its poll is the safety net.
  const outbox = listenForEnqueuedNotifications({ connectionString: p.config.DATABASE_URL, temporal: p.client, logger: p.logger });
  p.onClose(() => outbox.close());
  // So is the end-of-day scheduler: its timers fire on whichever IO worker is alive.
  if (p.config.EOD_SCHEDULER === 'on') await ensureEodScheduler({ temporal: p.client });
  // The market-data feeds and the platform's Schedules likewise: created when missing, left alone when they exist
  // (platform/schedules.ts owns the list).
  p.logger.info(await ensurePeriodicWork(p.client, p.db, p.redis, p.config), 'periodic work ensured');
  return Worker.create({
    ...baseWorkerOptions(p, connection),
    activities: createIoActivities(deps),
    maxConcurrentActivityTaskExecutions: 100,
  });
});
