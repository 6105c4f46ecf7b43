/**
 * The outbox and its dispatch activity against real Postgres and a real local HTTP receiver (MockActivityEnvironment
 * is only the activity context): insert-or-get on the dedupe key (retries, transactions, concurrent inserts), every
 * channel's wire format, partial failures, backoff, Retry-After, timeouts, the dead-letter state, SKIP LOCKED between
 * concurrent dispatchers, lapsed claims, and no webhook secret in errors, results or logs.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { createNotificationActivities, type DispatchResult, type NotificationActivities } from '../../activities/notifications';
import {
  claimDueNotifications,
  countNotificationsByStatus,
  enqueueNotification,
  getNotificationByDedupeKey,
  listNotifications,
  markNotificationSent,
  requeueDeadNotification,
  rescheduleNotification,
  type NotificationRow,
} from '../../db/sql/notifications';
import { inTransaction } from '../../db/sql/queryable';
import { retryDelayMs } from '../../notify/backoff';
import type { NotificationInput } from '../../notify/message';
import { notifySettingsFromConfig, type NotifySettings } from '../../notify/settings';
import { createLogger } from '../../platform/logger';
import { closedPort, memoryLogger } from '../marketdata/helpers';
import { testConfig, testStack } from '../helpers/stack';
import { eventually, memoryDestination, OK, startReceiver, type Answer, type Receiver } from './receiver';

/** Planted in every webhook URL and the signing secret: must never show up outside the senders. */
const CANARY = `canary${randomUUID().replace(/-/g, '')}`;
const SIGNING_SECRET = `signing-${CANARY}`;
const PREFIX = `outbox-test:${randomUUID().slice(0, 8)}`;

let pool: Pool;
let receiver: Receiver;
let logs: ReturnType<typeof memoryDestination>;
/** what activities log through their context (Temporal's activity logger) */
let activityLog: ReturnType<typeof memoryLogger>;

const telegramOk: Answer = { status: 200, body: '{"ok":true,"result":{}}' };
const defaultAnswer = (path: string): Answer => (path.startsWith('/bot') ? telegramOk : OK);

beforeAll(async () => {
  pool = new Pool({ connectionString: testStack().DATABASE_URL, max: 6 });
  receiver = await startReceiver();
});
beforeEach(() => {
  logs = memoryDestination();
  activityLog = memoryLogger();
  receiver.respond = (r) => defaultAnswer(r.path);
});
afterEach(async () => {
  // Rows a test left due must not be delivered by the next test's dispatcher.
  await pool.query(`UPDATE notifications SET status = 'dead', last_error = 'test cleanup' WHERE status IN ('pending', 'sending') AND dedupe_key LIKE $1`, [`${PREFIX}:%`]);
});
afterAll(async () => {
  await receiver?.close();
  await pool?.end();
});

const key = (name: string) => `${PREFIX}:${name}:${randomUUID()}`;

/** Settings through the real config path (zod), pointing every channel at the receiver with the canary in its URL. */
function settings(env: Record<string, string> = {}, patch: Partial<NotifySettings> = {}): NotifySettings {
  const config = testConfig({
    NOTIFY_WEBHOOK_URL: `${receiver.url}/hook/${CANARY}`,
    NOTIFY_WEBHOOK_SECRET: SIGNING_SECRET,
    NOTIFY_SLACK_WEBHOOK_URL: `${receiver.url}/slack/T000/B000/${CANARY}`,
    NOTIFY_TELEGRAM_URL: `${receiver.url}/bot${CANARY}/sendMessage`,
    NOTIFY_TELEGRAM_CHAT_ID: '-1001234567',
    NOTIFY_MAX_ATTEMPTS: '3',
    NOTIFY_BACKOFF_BASE_MS: '100',
    NOTIFY_BACKOFF_MAX_MS: '1000',
    NOTIFY_SEND_TIMEOUT_MS: '500',
    ...env,
  });
  return { ...notifySettingsFromConfig(config, createLogger('info', {}, logs)), ...patch };
}

function activities(s: NotifySettings = settings(), db: Pool = pool): NotificationActivities {
  return createNotificationActivities({ db, notify: s });
}

/** Runs an activity in a mock activity context, with its own result type. */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment({}, { logger: activityLog.logger }).run(fn, ...args) as Promise<R>;
}

const dispatch = (acts: NotificationActivities): Promise<DispatchResult> => run(acts.dispatchNotifications, {});

async function row(dedupeKey: string): Promise<NotificationRow> {
  const r = await getNotificationByDedupeKey(pool, dedupeKey);
  if (!r) throw new Error(`no notification ${dedupeKey}`);
  return r;
}

const input = (dedupeKey: string, over: Partial<NotificationInput> = {}): NotificationInput => ({
  kind: 'reconciliation.unknown_order',
  severity: 'critical',
  subject: 'Unknown order at paper/acct-1',
  body: 'Order <X1> & friends is not in the ledger; deployments on this account are blocked.',
  payload: { broker: 'paper', accountId: 'acct-1', brokerOrderId: 'X1' },
  dedupeKey,
  ...over,
});

/** Requests about one notification: the webhook's dedupeKey, or Slack's and Telegram's `#<id>` reference. */
const requestsFor = (dedupeKey: string, id: string) => {
  const ref = new RegExp(`#${id}(?!\\d)`);
  return receiver.requests.filter((r) => r.json?.dedupeKey === dedupeKey || ref.test(String(r.json?.text ?? '')) || ref.test(JSON.stringify(r.json?.blocks ?? '')));
};

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected an ApplicationFailure');
}

describe('enqueue', () => {
  test('is insert-or-get on the dedupe key: a retried activity gets the first row back and leaves one row', async () => {
    const acts = activities();
    const k = key('retry');
    const first = await run(acts.enqueueNotification, input(k));
    const retry = await run(acts.enqueueNotification, input(k));
    const changedRetry = await run(acts.enqueueNotification, input(k, { subject: 'a different subject' }));
    expect(first.created).toBe(true);
    expect([retry, changedRetry]).toEqual([{ id: first.id, created: false }, { id: first.id, created: false }]);
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM notifications WHERE dedupe_key = $1', [k]);
    expect(Number(rows[0]!.n)).toBe(1);
    expect((await row(k)).subject).toBe('Unknown order at paper/acct-1');
  });

  test("joins the caller's transaction: rolled back with it, invisible until it commits", async () => {
    const rolledBack = key('tx-rollback');
    await expect(
      inTransaction(pool, async (tx) => {
        await enqueueNotification(tx, input(rolledBack));
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    expect(await getNotificationByDedupeKey(pool, rolledBack)).toBeUndefined();

    const committed = key('tx-commit');
    await inTransaction(pool, async (tx) => {
      const { created } = await enqueueNotification(tx, input(committed));
      expect(created).toBe(true);
      // Not visible (so not dispatchable) before the caller commits.
      expect(await getNotificationByDedupeKey(pool, committed)).toBeUndefined();
    });
    expect((await row(committed)).status).toBe('pending');
  });

  test('two transactions enqueueing one key concurrently end with one row and the same id', async () => {
    const k = key('concurrent');
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const first = await enqueueNotification(a, input(k));
      let secondSettled = false;
      const second = enqueueNotification(b, input(k)).finally(() => (secondSettled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(secondSettled).toBe(false); // waits on the first transaction's unique-key lock
      await a.query('COMMIT');
      const got = await second;
      await b.query('COMMIT');
      expect(first.created).toBe(true);
      expect(got).toEqual({ id: first.id, created: false, status: 'pending' });
    } finally {
      a.release();
      b.release();
    }
  });

  test('invalid input is a non-retryable InvalidInput failure and stores nothing', async () => {
    const acts = activities();
    const bad: Array<[string, Partial<NotificationInput>]> = [
      ['kind', { kind: 'Not A Kind' }],
      ['subject', { subject: '  ' }],
      ['channels', { channels: ['email' as never] }],
      ['channels', { channels: ['slack', 'slack'] }],
      ['payload', { payload: { blob: 'x'.repeat(20_000) } }],
    ];
    for (const [path, over] of bad) {
      const k = key('invalid');
      const f = await failure(run(acts.enqueueNotification, input(k, over)));
      expect(f.type).toBe('InvalidInput');
      expect(f.nonRetryable).toBe(true);
      expect(f.message).toContain(path);
      expect(await getNotificationByDedupeKey(pool, k)).toBeUndefined();
    }
  });
});

describe('dispatch', () => {
  test('delivers each channel format: log, signed generic webhook, Slack {text, blocks}, Telegram {chat_id, text}', async () => {
    const acts = activities();
    const k = key('formats');
    const { id } = await run(acts.enqueueNotification, input(k));
    const result = await dispatch(acts);
    expect(result.claimed).toBeGreaterThanOrEqual(1);
    const sent = await row(k);
    expect(sent).toMatchObject({ status: 'sent', attempts: 1, last_error: null });
    expect([...sent.delivered_channels].sort()).toEqual(['log', 'slack', 'telegram', 'webhook']);
    expect(sent.sent_at).toBeInstanceOf(Date);

    const got = requestsFor(k, id);
    const hook = got.find((r) => r.path.startsWith('/hook/'))!;
    expect(hook.json).toEqual({
      id, dedupeKey: k, kind: 'reconciliation.unknown_order', severity: 'critical', subject: 'Unknown order at paper/acct-1',
      body: input(k).body, payload: { broker: 'paper', accountId: 'acct-1', brokerOrderId: 'X1' }, createdAt: sent.created_at.toISOString(), attempt: 1,
    });
    expect(hook.headers['idempotency-key']).toBe(`notification-${id}`);
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['x-signature-256']).toBe(`sha256=${createHmac('sha256', SIGNING_SECRET).update(hook.raw).digest('hex')}`);

    type Block = { type: string; text?: unknown; elements?: Array<{ text: string }> };
    const slack = got.find((r) => r.path.startsWith('/slack/'))!.json as { text: string; blocks: Block[] };
    expect(slack.text).toBe(':rotating_light: [CRITICAL] Unknown order at paper/acct-1');
    expect(slack.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(slack.blocks[0]!.text).toEqual({ type: 'plain_text', text: 'Unknown order at paper/acct-1', emoji: true });
    expect(slack.blocks[1]!.text).toEqual({ type: 'mrkdwn', text: 'Order &lt;X1&gt; &amp; friends is not in the ledger; deployments on this account are blocked.' });
    expect(slack.blocks[2]!.elements![0]!.text).toBe(`critical · reconciliation.unknown_order · #${id}`);

    const telegram = got.find((r) => r.path.startsWith('/bot'))!.json!;
    expect(telegram).toEqual({
      chat_id: '-1001234567',
      text: `🚨 [CRITICAL] Unknown order at paper/acct-1\n\n${input(k).body}\n\nreconciliation.unknown_order · #${id}`,
      link_preview_options: { is_disabled: true },
    });

    const logged = logs.lines.find((l) => (l.notification as { id?: string } | undefined)?.id === id)!;
    expect(logged).toMatchObject({ level: 'error', msg: 'notification: Unknown order at paper/acct-1', notification: { kind: 'reconciliation.unknown_order', dedupeKey: k } });
    expect(got).toHaveLength(3); // one request per webhook channel, no more
  });

  test('only the listed channels are used; a listed channel that is not configured is a failure', async () => {
    const noSlack = activities(settings({ NOTIFY_SLACK_WEBHOOK_URL: '' }));
    const k = key('targets');
    const { id } = await run(noSlack.enqueueNotification, input(k, { channels: ['webhook', 'slack'], severity: 'warning' }));
    await dispatch(noSlack);
    const r = await row(k);
    expect(r).toMatchObject({ status: 'pending', attempts: 1, delivered_channels: ['webhook'], last_error: 'slack: not configured' });
    expect(requestsFor(k, id).map((q) => q.path.split('/')[1])).toEqual(['hook']);
    expect(logs.lines.some((l) => (l.notification as { id?: string } | undefined)?.id === id)).toBe(false); // log was not listed
  });

  test('a channel that failed is retried alone: the channels that accepted are not sent again', async () => {
    const acts = activities();
    const k = key('partial');
    const { id } = await run(acts.enqueueNotification, input(k, { channels: ['webhook', 'slack'] }));
    let slackCalls = 0;
    receiver.respond = (r) => (r.path.startsWith('/slack/') && ++slackCalls === 1 ? { status: 503, body: 'busy' } : defaultAnswer(r.path));
    await dispatch(acts);
    expect(await row(k)).toMatchObject({ status: 'pending', delivered_channels: ['webhook'], last_error: 'slack: HTTP 503: busy' });
    const done = await eventually(async () => (await dispatch(acts), row(k)), (r) => r.status !== 'pending');
    expect(done).toMatchObject({ status: 'sent', attempts: 2, delivered_channels: ['webhook', 'slack'], last_error: null });
    const paths = requestsFor(k, id).map((q) => q.path.split('/')[1]);
    expect(paths.filter((p) => p === 'hook')).toHaveLength(1);
    expect(paths.filter((p) => p === 'slack')).toHaveLength(2);
  });

  test('a receiver answering 500 is retried with exponential backoff, then the row is dead after the last attempt', async () => {
    // random ~1: the jitter factor is ~1, so the delays are ~300 ms then ~600 ms.
    const acts = activities(settings({ NOTIFY_BACKOFF_BASE_MS: '300' }, { random: () => 0.999 }));
    const k = key('dead');
    const { id } = await run(acts.enqueueNotification, input(k, { channels: ['webhook'] }));
    receiver.respond = (r) => (r.path.startsWith('/hook/') ? { status: 500, body: 'internal error' } : defaultAnswer(r.path));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const before = await row(k);
      if (attempt > 1) await new Promise((r) => setTimeout(r, Math.max(0, before.next_attempt_at.getTime() - Date.now()) + 30));
      const result = await dispatch(acts);
      const after = await row(k);
      expect(after.attempts).toBe(attempt);
      if (after.status === 'pending') {
        // The workflow sleeps this long: until the retry is due, not a fixed poll.
        expect(result.nextDueInMs).toBeGreaterThan(0);
        expect(result.nextDueInMs).toBeLessThanOrEqual(300 * 2 ** (attempt - 1));
        const { rows } = await pool.query<{ ms: number }>('SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS ms FROM notifications WHERE id = $1', [id]);
        delays.push(Number(rows[0]!.ms));
        // Not due yet: another dispatch claims nothing of it.
        await dispatch(acts);
        expect((await row(k)).attempts).toBe(attempt);
      }
    }
    const dead = await row(k);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, last_error: 'webhook: HTTP 500: internal error', sent_at: null });
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeGreaterThan(250);
    expect(delays[0]).toBeLessThanOrEqual(300);
    expect(delays[1]).toBeGreaterThan(550);
    expect(delays[1]).toBeLessThanOrEqual(600);
    expect(requestsFor(k, id)).toHaveLength(3);
    // Dead stays dead.
    await new Promise((r) => setTimeout(r, 300));
    await dispatch(acts);
    expect(requestsFor(k, id)).toHaveLength(3);

    // An operator's requeue gives it a fresh set of attempts.
    expect(await requeueDeadNotification(pool, id)).toBe(true);
    expect(await requeueDeadNotification(pool, id)).toBe(false);
    receiver.respond = (r) => defaultAnswer(r.path);
    await dispatch(acts);
    expect(await row(k)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  test("a 429's Retry-After postpones the retry beyond the backoff", async () => {
    const acts = activities();
    const k = key('retry-after');
    await run(acts.enqueueNotification, input(k, { channels: ['webhook'] }));
    receiver.respond = (r) => (r.path.startsWith('/hook/') ? { status: 429, headers: { 'retry-after': '1' } } : defaultAnswer(r.path));
    await dispatch(acts);
    const r = await row(k);
    expect(r).toMatchObject({ status: 'pending', last_error: 'webhook: HTTP 429' });
    // backoff alone would be <= 100 ms; the receiver asked for 1 s (capped at NOTIFY_BACKOFF_MAX_MS = 1 s)
    expect(r.next_attempt_at.getTime() - Date.now()).toBeGreaterThan(800);
  });

  test('a receiver that never answers times out and the row is retried', async () => {
    const acts = activities();
    const k = key('hang');
    await run(acts.enqueueNotification, input(k, { channels: ['webhook'] }));
    receiver.respond = (r) => (r.path.startsWith('/hook/') ? { status: 200, hang: true } : defaultAnswer(r.path));
    const t0 = Date.now();
    await dispatch(acts);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await row(k)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'webhook: timed out after 500 ms' });
  });

  test('four concurrent dispatchers never send a row twice (FOR UPDATE SKIP LOCKED)', async () => {
    const N = 120;
    const keys = Array.from({ length: N }, (_, i) => key(`skip-locked-${i}`));
    for (const k of keys) await enqueueNotification(pool, input(k, { channels: ['webhook'], severity: 'info' }));
    // A slow receiver keeps rounds overlapping.
    receiver.respond = (r) => ({ ...defaultAnswer(r.path), delayMs: 15 });
    const pools = Array.from({ length: 4 }, () => new Pool({ connectionString: testStack().DATABASE_URL, max: 2 }));
    try {
      const claimedBy = await Promise.all(
        pools.map(async (p) => {
          const acts = activities(settings(), p);
          let claimed = 0;
          for (;;) {
            const r = await dispatch(acts);
            claimed += r.claimed;
            if (r.claimed === 0) return claimed;
          }
        }),
      );
      const mine = new Set(keys);
      const received = receiver.requests.filter((r) => r.path.startsWith('/hook/') && mine.has(String(r.json?.dedupeKey)));
      const perKey = new Map<string, number>();
      for (const r of received) perKey.set(String(r.json!.dedupeKey), (perKey.get(String(r.json!.dedupeKey)) ?? 0) + 1);
      expect(perKey.size).toBe(N);
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);
      expect(claimedBy.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2); // they did run side by side
      const { rows } = await pool.query<{ status: string; attempts: number; n: string }>(
        'SELECT status, attempts, count(*) AS n FROM notifications WHERE dedupe_key = ANY($1) GROUP BY status, attempts',
        [keys],
      );
      expect(rows.map((r) => ({ ...r, n: Number(r.n) }))).toEqual([{ status: 'sent', attempts: 1, n: N }]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test("a claim that lapsed (its dispatcher died mid-send) is taken over, and the stale claim's outcome is ignored", async () => {
    const acts = activities();
    const k = key('lapsed');
    const { id } = await enqueueNotification(pool, input(k, { channels: ['webhook'] }));
    // A dispatcher claims it with a 1 ms lease and "dies".
    const claimed = await claimDueNotifications(pool, 1_000, 1);
    expect(claimed.find((r) => r.id === id)).toMatchObject({ status: 'sending', attempts: 1 });
    await new Promise((r) => setTimeout(r, 20));
    await dispatch(acts);
    expect(await row(k)).toMatchObject({ status: 'sent', attempts: 2 });
    // The first dispatcher wakes up and reports: nothing changes.
    expect(await markNotificationSent(pool, id, 1, [])).toBe(false);
    expect(await rescheduleNotification(pool, id, 1, 10, 'stale', [])).toBe(false);
    expect(await row(k)).toMatchObject({ status: 'sent', attempts: 2, delivered_channels: ['webhook'] });
  });

  test('no webhook secret in errors, results or logs, even when a receiver echoes its URL or is unreachable', async () => {
    const down = await closedPort();
    const acts = activities(settings({ NOTIFY_SLACK_WEBHOOK_URL: `http://127.0.0.1:${down}/slack/${CANARY}` }));
    const k = key('secrets');
    const { id } = await run(acts.enqueueNotification, input(k, { channels: ['webhook', 'slack', 'telegram', 'log'] }));
    // A receiver that echoes the URL it was called on (and the generic webhook's signing secret) in its error.
    receiver.respond = (r) => ({ status: 500, body: `no route for ${receiver.url}${r.path}${r.path.startsWith('/hook/') ? ` (secret ${SIGNING_SECRET})` : ''}` });
    const result = await dispatch(acts);
    const r = await row(k);
    expect(r.status).toBe('pending');
    expect(r.last_error).toBe('slack: request failed (ECONNREFUSED); telegram: HTTP 500: no route for [redacted]; webhook: HTTP 500: no route for [redacted] (secret [redacted])');
    expect(requestsFor(k, id).length).toBeGreaterThan(0);
    expect(activityLog.entries.some((e) => e.message.includes('retrying'))).toBe(true);
    const everything = JSON.stringify({ result, row: r, logs: logs.raw, activityLog: activityLog.entries, listed: await listNotifications(pool, { kind: 'reconciliation.unknown_order' }, 500, 0) });
    expect(everything).toContain(id);
    expect(everything).not.toContain(CANARY);
  });
});

describe('listing and counts (for the API)', () => {
  test('filters by status, severity and kind, newest first; counts every status', async () => {
    const kind = `test.listing_${randomUUID().slice(0, 8).replace(/-/g, '')}`;
    const a = await enqueueNotification(pool, input(key('list-a'), { kind, severity: 'info' }));
    const b = await enqueueNotification(pool, input(key('list-b'), { kind, severity: 'warning' }));
    expect((await listNotifications(pool, { kind }, 10, 0)).map((r) => r.id)).toEqual([b.id, a.id]);
    expect((await listNotifications(pool, { kind, severity: 'warning' }, 10, 0)).map((r) => r.id)).toEqual([b.id]);
    expect((await listNotifications(pool, { kind, status: 'sent' }, 10, 0)).map((r) => r.id)).toEqual([]);
    expect((await listNotifications(pool, { kind }, 1, 1)).map((r) => r.id)).toEqual([a.id]);
    const counts = await countNotificationsByStatus(pool);
    expect(Object.keys(counts).sort()).toEqual(['dead', 'pending', 'sending', 'sent']);
    expect(counts.pending).toBeGreaterThanOrEqual(2);
  });
});

describe('retryDelayMs', () => {
  test('doubles from the base, is capped, and jitters within [0.5, 1) of the exponential value', () => {
    const policy = { baseMs: 1_000, maxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, policy, () => 0))).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, () => 0.999_999))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000]);
    expect(retryDelayMs(1_000, policy, () => 0.5)).toBe(7_500);
  });
});
