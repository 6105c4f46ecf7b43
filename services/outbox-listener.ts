import type { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { AppLogger } from '../platform/logger';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, notificationsEnqueuedSignal } from '../workflows/notifications/messages';

/** The channel the outbox's insert trigger notifies (migration 0027). */
export const NOTIFICATIONS_ENQUEUED_CHANNEL = 'notifications_enqueued';
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface OutboxListenerOptions {
  connectionString: string;
  temporal: Client;
  logger: AppLogger;
  /** rows enqueued within this many ms of the first wake the dispatcher once */
  debounceMs?: number;
  /** its connection's name in pg_stat_activity */
  applicationName?: string;
}

/**
 * Wakes the notification dispatcher when rows are added to the outbox, whoever added them (an activity, the API's kill
 * switch, a market-data check): it LISTENs on a connection of its own and signals the dispatcher, once per `debounceMs`.
 * So a row goes out within about a second, and the dispatcher's poll (NOTIFY_POLL_MS) is only the safety net for a
 * listener that is down, which is why it can be long and the dispatcher costs nearly nothing while the outbox is empty.
 * The connection comes back after Postgres restarts (backing off up to 30 s); each (re)connect wakes the dispatcher once,
 * for rows added while it was away.
 */
export function listenForEnqueuedNotifications(opts: OutboxListenerOptions): { close(): Promise<void> } {
  const debounceMs = opts.debounceMs ?? 100;
  let closed = false;
  let conn: PgClient | undefined;
  let pending: NodeJS.Timeout | undefined;
  let retryMs = RETRY_MIN_MS;

  const wake = () => {
    if (pending || closed) return;
    pending = setTimeout(() => {
      pending = undefined;
      opts.temporal.workflow.getHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID).signal(notificationsEnqueuedSignal).catch((err: Error) => {
        opts.logger.warn({ error: err.message }, 'outbox listener: could not wake the notification dispatcher; its poll sends the rows');
      });
    }, debounceMs);
  };

  const connect = async (): Promise<void> => {
    while (!closed) {
      const c = new PgClient({ connectionString: opts.connectionString, application_name: opts.applicationName ?? 'outbox-listener', connectionTimeoutMillis: 5_000 });
      c.on('error', () => undefined); // 'end' follows: reconnect there
      try {
        await c.connect();
        await c.query(`LISTEN ${NOTIFICATIONS_ENQUEUED_CHANNEL}`);
      } catch (err) {
        await c.end().catch(() => undefined);
        opts.logger.warn({ error: (err as Error).message, retryMs }, 'outbox listener: Postgres unreachable; retrying');
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      if (closed) {
        await c.end().catch(() => undefined);
        return;
      }
      retryMs = RETRY_MIN_MS;
      conn = c;
      c.on('notification', wake);
      c.once('end', () => {
        conn = undefined;
        if (!closed) void connect();
      });
      wake();
      return;
    }
  };
  void connect();

  return {
    async close() {
      closed = true;
      clearTimeout(pending);
      await conn?.end().catch(() => undefined);
    },
  };
}
