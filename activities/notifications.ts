/**
 * Notification activities (io queue): enqueue into the Postgres outbox, and drain it.
 *
 * - `enqueueNotification` is insert-or-get on the dedupe key, so a retried activity enqueues once. Activities that
 *   have a transaction call db/sql/notifications.ts `enqueueNotification(tx, …)` directly instead (the outbox
 *   pattern: the alert commits with the state change that caused it).
 * - `dispatchNotifications` claims due rows (FOR UPDATE SKIP LOCKED, so dispatchers never share a row), sends each
 *   to the channels it has not reached yet, and marks it sent, or reschedules it with exponential backoff and
 *   jitter, or after the last attempt marks it dead. It drains rounds until nothing is due or its time budget is
 *   spent, heartbeating after each round, and reports when the next row is due. Webhook URLs stay in the senders:
 *   arguments and results carry counts only.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import {
  claimDueNotifications,
  enqueueNotification as enqueueNotificationRow,
  markNotificationDead,
  markNotificationSent,
  msUntilNextNotificationDue,
  rescheduleNotification,
  type NotificationRow,
} from '../db/sql/notifications';
import type { Queryable } from '../db/sql/queryable';
import { retryDelayMs } from '../notify/backoff';
import { DeliveryError, type ChannelSender } from '../notify/channels';
import type { Channel, NotificationInput, NotificationMessage } from '../notify/message';
import { notifySettingsFromEnv, type NotifySettings } from '../notify/settings';
import { ErrorType } from '../workflows/errors';

export interface NotificationDeps {
  db: Queryable;
  /** channels and retry rules, or a reader of the current ones (a settings reload swaps them); default: from the NOTIFY_* environment variables */
  notify?: NotifySettings | (() => NotifySettings);
}

export const DispatchInputSchema = z.strictObject({
  /** stop after claiming this many rows (the workflow calls again at once when more are due) */
  maxRows: z.number().int().min(1).max(10_000).default(500),
});
export type DispatchInput = z.input<typeof DispatchInputSchema>;

export interface DispatchResult {
  claimed: number;
  sent: number;
  retried: number;
  dead: number;
  /** rows whose claim lapsed while they were being sent (another dispatcher owns them now) */
  lostClaims: number;
  /** ms until the next pending row is due (0: due now), null when nothing waits */
  nextDueInMs: number | null;
}

type Outcome = 'sent' | 'retried' | 'dead' | 'lostClaims';

export function createNotificationActivities({ db, notify }: NotificationDeps) {
  const fixed = typeof notify === 'function' ? undefined : (notify ?? notifySettingsFromEnv());
  const current = typeof notify === 'function' ? notify : () => fixed!;

  /** Sends one claimed row to every target that has not accepted it yet, then records the outcome under the claim. */
  const deliver = async (row: NotificationRow): Promise<Outcome> => {
    // Read per row: a reload between rounds (or rows) takes effect on the next send.
    const settings = current();
    const senders = new Map<Channel, ChannelSender>(settings.senders.map((s) => [s.channel, s]));
    const configured = [...senders.keys()];
    const random = settings.random ?? Math.random;
    const targets = row.channels.length ? row.channels : configured;
    const delivered = new Set<Channel>(row.delivered_channels);
    const message = toMessage(row);
    const failures: string[] = [];
    let retryAfterMs = 0;
    await Promise.all(
      targets
        .filter((c) => !delivered.has(c))
        .map(async (channel) => {
          const sender = senders.get(channel);
          if (!sender) {
            failures.push(`${channel}: not configured`);
            return;
          }
          try {
            await sender.send(message);
            delivered.add(channel);
          } catch (err) {
            // DeliveryError messages are built without URLs; anything else is named only by its type.
            failures.push(`${channel}: ${err instanceof DeliveryError ? err.message : `unexpected ${(err as Error)?.name ?? 'error'}`}`);
            if (err instanceof DeliveryError && err.retryAfterMs) retryAfterMs = Math.max(retryAfterMs, err.retryAfterMs);
          }
        }),
    );
    const deliveredList = targets.filter((c) => delivered.has(c));
    const log = Context.current().log;
    if (failures.length === 0) return (await markNotificationSent(db, row.id, row.attempts, deliveredList)) ? 'sent' : lost(row);
    const error = failures.sort().join('; ');
    const meta = { notificationId: row.id, kind: row.kind, attempt: row.attempts, error };
    if (row.attempts >= settings.maxAttempts) {
      if (!(await markNotificationDead(db, row.id, row.attempts, error, deliveredList))) return lost(row);
      log.error('notification dead after its last attempt', meta);
      return 'dead';
    }
    const delayMs = Math.max(retryDelayMs(row.attempts, settings.backoff, random), Math.min(retryAfterMs, settings.backoff.maxMs));
    if (!(await rescheduleNotification(db, row.id, row.attempts, delayMs, error, deliveredList))) return lost(row);
    log.warn('notification delivery failed; retrying', { ...meta, retryInMs: delayMs });
    return 'retried';
  };

  const lost = (row: NotificationRow): Outcome => {
    Context.current().log.warn('notification claim lapsed while sending; another dispatcher has it', { notificationId: row.id, attempt: row.attempts });
    return 'lostClaims';
  };

  return {
    /** Insert-or-get on the dedupe key: a retry returns the first row (created: false). */
    async enqueueNotification(input: NotificationInput): Promise<{ id: string; created: boolean }> {
      try {
        const { id, created } = await enqueueNotificationRow(db, input);
        return { id, created };
      } catch (err) {
        if (err instanceof z.ZodError) {
          throw ApplicationFailure.nonRetryable(`invalid notification: ${err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, ErrorType.InvalidInput);
        }
        throw err;
      }
    },

    /** Drains due rows in rounds of `batchSize` until none is due, `maxRows` were claimed or the time budget is spent. */
    async dispatchNotifications(input: DispatchInput = {}): Promise<DispatchResult> {
      const parsed = DispatchInputSchema.safeParse(input ?? {});
      if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid dispatch input: ${parsed.error.issues.map((i) => i.message).join('; ')}`, ErrorType.InvalidInput);
      const { maxRows } = parsed.data;
      const ctx = Context.current();
      const startedAt = Date.now();
      const totals = { claimed: 0, sent: 0, retried: 0, dead: 0, lostClaims: 0 };
      const settings = current();
      while (totals.claimed < maxRows && Date.now() - startedAt < settings.budgetMs && !ctx.cancellationSignal.aborted) {
        const limit = Math.min(settings.batchSize, maxRows - totals.claimed);
        const rows = await claimDueNotifications(db, limit, settings.claimLeaseMs);
        totals.claimed += rows.length;
        for (const outcome of await mapLimit(rows, settings.sendConcurrency, deliver)) totals[outcome]++;
        ctx.heartbeat(totals);
        if (rows.length < limit) break;
      }
      return { ...totals, nextDueInMs: await msUntilNextNotificationDue(db) };
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;

/** Like Promise.all over `items.map(fn)`, with at most `limit` calls in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

function toMessage(row: NotificationRow): NotificationMessage {
  return {
    id: row.id,
    dedupeKey: row.dedupe_key,
    kind: row.kind,
    severity: row.severity,
    subject: row.subject,
    body: row.body,
    payload: row.payload,
    createdAt: row.created_at,
    attempt: row.attempts,
  };
}
