import { NotificationInputSchema, type Channel, type NotificationInput, type NotificationStatus, type Severity } from '../../notify/message';
import type { Queryable } from './queryable';

export interface NotificationRow {
  /** bigserial, as pg returns it */
  id: string;
  kind: string;
  severity: Severity;
  subject: string;
  body: string;
  payload: Record<string, unknown>;
  dedupe_key: string;
  channels: Channel[];
  delivered_channels: Channel[];
  status: NotificationStatus;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
}

/**
 * Insert-or-get on the dedupe key, so a retried caller never enqueues twice. Pass a transaction to enqueue
 * together with the state change that caused it (the outbox pattern), or a pool. Throws a ZodError on bad input.
 * The no-op DO UPDATE (rather than DO NOTHING) returns the row even when a concurrent transaction inserted it;
 * xmax = 0 only on a freshly inserted row version.
 */
export async function enqueueNotification(db: Queryable, input: NotificationInput): Promise<{ id: string; created: boolean; status: NotificationStatus }> {
  const n = NotificationInputSchema.parse(input);
  const { rows } = await db.query<{ id: string; created: boolean; status: NotificationStatus }>(
    `INSERT INTO notifications (kind, severity, subject, body, payload, dedupe_key, channels)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (dedupe_key) DO UPDATE SET dedupe_key = EXCLUDED.dedupe_key
     RETURNING id, status, (xmax = 0) AS created`,
    [n.kind, n.severity, n.subject, n.body, JSON.stringify(n.payload), n.dedupeKey, n.channels],
  );
  return rows[0]!;
}

/**
 * Claims up to `limit` due rows for one dispatcher: marks them sending, counts the attempt and sets when the claim
 * lapses. SKIP LOCKED lets concurrent dispatchers claim disjoint rows without waiting on each other.
 */
export async function claimDueNotifications(db: Queryable, limit: number, leaseMs: number): Promise<NotificationRow[]> {
  const { rows } = await db.query<NotificationRow & Record<string, unknown>>(
    `UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
     WHERE n.id IN (
       SELECT id FROM notifications WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
       ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING n.*`,
    [limit, leaseMs],
  );
  return rows;
}

/** The claim (id + attempt number) still holds: a dispatcher whose claim lapsed and was re-claimed changes nothing. */
const CLAIMED = `id = $1 AND attempts = $2 AND status = 'sending'`;

export async function markNotificationSent(db: Queryable, id: string, attempt: number, delivered: Channel[]): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notifications SET status = 'sent', sent_at = now(), delivered_channels = $3, last_error = NULL WHERE ${CLAIMED}`,
    [id, attempt, delivered],
  );
  return rowCount === 1;
}

/** Back to pending, due again after `delayMs`; keeps the channels that already accepted it. */
export async function rescheduleNotification(db: Queryable, id: string, attempt: number, delayMs: number, error: string, delivered: Channel[]): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notifications SET status = 'pending', next_attempt_at = now() + make_interval(secs => $3::float8 / 1000), last_error = $4, delivered_channels = $5
     WHERE ${CLAIMED}`,
    [id, attempt, delayMs, error, delivered],
  );
  return rowCount === 1;
}

/** The dead-letter state: no more attempts until someone requeues it. */
export async function markNotificationDead(db: Queryable, id: string, attempt: number, error: string, delivered: Channel[]): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE notifications SET status = 'dead', last_error = $3, delivered_channels = $4 WHERE ${CLAIMED}`, [
    id,
    attempt,
    error,
    delivered,
  ]);
  return rowCount === 1;
}

/** A dead row gets a fresh set of attempts (an operator's retry after fixing a channel). */
export async function requeueDeadNotification(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE id = $1 AND status = 'dead'`, [id]);
  return rowCount === 1;
}

/** Milliseconds until the earliest pending or claimed row is due (0 when one is due now), null when none is waiting. */
export async function msUntilNextNotificationDue(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8 AS ms FROM notifications WHERE status IN ('pending', 'sending')`,
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? null : Math.max(0, Math.ceil(Number(ms)));
}

export async function getNotification(db: Queryable, id: string): Promise<NotificationRow | undefined> {
  const { rows } = await db.query<NotificationRow & Record<string, unknown>>('SELECT * FROM notifications WHERE id = $1', [id]);
  return rows[0];
}

export async function getNotificationByDedupeKey(db: Queryable, dedupeKey: string): Promise<NotificationRow | undefined> {
  const { rows } = await db.query<NotificationRow & Record<string, unknown>>('SELECT * FROM notifications WHERE dedupe_key = $1', [dedupeKey]);
  return rows[0];
}

export interface NotificationFilter {
  status?: NotificationStatus;
  severity?: Severity;
  kind?: string;
}

/** Notifications, newest first, optionally by status, severity and kind. */
export async function listNotifications(db: Queryable, filter: NotificationFilter, limit: number, offset: number): Promise<NotificationRow[]> {
  const { rows } = await db.query<NotificationRow & Record<string, unknown>>(
    `SELECT * FROM notifications
     WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR severity = $2) AND ($3::text IS NULL OR kind = $3)
     ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5`,
    [filter.status ?? null, filter.severity ?? null, filter.kind ?? null, limit, offset],
  );
  return rows;
}

/** How many notifications are in each status (every status present, 0 when none). */
export async function countNotificationsByStatus(db: Queryable): Promise<Record<NotificationStatus, number>> {
  const { rows } = await db.query<{ status: NotificationStatus; n: string }>('SELECT status, count(*) AS n FROM notifications GROUP BY status');
  const counts: Record<NotificationStatus, number> = { pending: 0, sending: 0, sent: 0, dead: 0 };
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}
