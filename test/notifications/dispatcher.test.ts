/**
 * notificationDispatchWorkflow on the real Temporal dev server, with an in-process IO worker (the pre-built io bundle,
 * the real dispatch activity, real Postgres) and a real local HTTP server as every webhook receiver. It polls only
 * once a minute here, so anything delivered in seconds was woken by a signal or by the next row coming due.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createNotificationActivities } from '../../activities/notifications';
import { createStartCheckActivities } from '../../activities/start-checks';
import { enqueueNotification, getNotification, getNotificationByDedupeKey, requeueDeadNotification, type NotificationRow } from '../../db/sql/notifications';
import { notifySettingsFromConfig } from '../../notify/settings';
import { createLogger } from '../../platform/logger';
import { ensureNotificationDispatcher } from '../../services/notification-dispatcher';
import { listenForEnqueuedNotifications } from '../../services/outbox-listener';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, notificationDispatchStateQuery, notificationsEnqueuedSignal } from '../../workflows/notifications/messages';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { TASK_QUEUES } from '../../workflows/task-queues';
import { testPool } from '../helpers/db';
import { testConfig, testStack } from '../helpers/stack';
import type { notifyTwiceWorkflow } from './fixtures/notify-workflow';
import { eventually, memoryDestination, OK, startReceiver, type Receiver } from './receiver';

const CANARY = `canary${randomUUID().replace(/-/g, '')}`;
const FIXTURE_QUEUE = `notify-fixture-${randomUUID().slice(0, 8)}`;
const POLL_MS = 60_000;
const BACKOFF_BASE_MS = 200;

let pool: Pool;
let receiver: Receiver;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
let workers: Worker[] = [];
let runs: Array<Promise<void>> = [];
let firstRunId: string;
const logs = memoryDestination();

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  receiver = await startReceiver();
  const settings = notifySettingsFromConfig(
    testConfig({
      NOTIFY_WEBHOOK_URL: `${receiver.url}/hook/${CANARY}`,
      NOTIFY_WEBHOOK_SECRET: `signing-${CANARY}`,
      NOTIFY_SLACK_WEBHOOK_URL: `${receiver.url}/slack/${CANARY}`,
      NOTIFY_TELEGRAM_URL: `${receiver.url}/bot${CANARY}/sendMessage`,
      NOTIFY_TELEGRAM_CHAT_ID: '-100777',
      NOTIFY_MAX_ATTEMPTS: '3',
      NOTIFY_BACKOFF_BASE_MS: String(BACKOFF_BASE_MS),
      NOTIFY_BACKOFF_MAX_MS: '1000',
      NOTIFY_SEND_TIMEOUT_MS: '1000',
    }),
    createLogger('info', {}, logs),
  );
  nativeConnection = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  const io = await Worker.create({
    connection: nativeConnection,
    namespace: stack.TEMPORAL_NAMESPACE,
    taskQueue: TASK_QUEUES.io,
    workflowBundle: { codePath: path.join(stack.WORKFLOW_BUNDLE_DIR, 'io.js') },
    activities: { ...createNotificationActivities({ db: pool, notify: settings }), ...createStartCheckActivities({ db: pool }) },
  });
  // A caller workflow (sendNotification from workflow code) on a queue of its own.
  const fixture = await Worker.create({
    connection: nativeConnection,
    namespace: stack.TEMPORAL_NAMESPACE,
    taskQueue: FIXTURE_QUEUE,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/notify-workflow'), logger: quiet }),
  });
  workers = [io, fixture];
  runs = workers.map((w) => w.run());
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
  // IO worker processes of earlier test files start the platform's dispatcher (default settings) on this server:
  // replace it with one that has this file's settings.
  await client.workflow.getHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID).terminate('a fresh dispatcher for the dispatcher tests').catch(() => undefined);
  ({ runId: firstRunId } = await ensureNotificationDispatcher(client, { pollIntervalMs: POLL_MS, minSleepMs: 20, roundsPerRun: 8 }));
}, 60_000);

afterAll(async () => {
  await client?.workflow.getHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID).terminate('notifications test cleanup').catch(() => undefined);
  for (const w of workers) w.shutdown();
  await Promise.allSettled(runs);
  await nativeConnection?.close();
  await connection?.close();
  await receiver?.close();
  await pool?.end();
});

beforeEach(() => {
  receiver.respond = (r) => (r.path.startsWith('/bot') ? { status: 200, body: '{"ok":true}' } : OK);
});

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
const dispatcher = () => client.workflow.getHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID);
/** What a caller outside workflow code would send after enqueueing: the dispatcher's own signal. */
const wake = () => dispatcher().signal(notificationsEnqueuedSignal);
const key = (name: string) => `dispatcher-test:${name}:${randomUUID()}`;
const hooksFor = (dedupeKey: string) => receiver.requests.filter((r) => r.path.startsWith('/hook/') && r.json?.dedupeKey === dedupeKey);

async function row(dedupeKey: string): Promise<NotificationRow> {
  const r = await getNotificationByDedupeKey(pool, dedupeKey);
  if (!r) throw new Error(`no notification ${dedupeKey}`);
  return r;
}

/** Waits until the dispatcher idles on its long poll (nothing due), so only a signal can wake it in time. */
const idle = () => eventually(() => dispatcher().query(notificationDispatchStateQuery), (s) => s.waitingMs === POLL_MS, 20_000);

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The history as text with every payload decoded (its `data` is base64 or bytes), so a secret in a payload shows. */
function historyText(history: unknown): string {
  return JSON.stringify(history, (_k, v: unknown) => {
    const p = v as { metadata?: unknown; data?: unknown } | null;
    if (p && typeof p === 'object' && 'metadata' in p && 'data' in p) {
      const data = typeof p.data === 'string' ? Buffer.from(p.data, 'base64') : p.data instanceof Uint8Array ? Buffer.from(p.data) : undefined;
      if (data) return { ...p, data: parseOrText(data.toString('utf8')) };
    }
    return v;
  });
}

test('ensureNotificationDispatcher is idempotent: a second call gets the running dispatcher', async () => {
  const again = await ensureNotificationDispatcher(client, { pollIntervalMs: 50 });
  expect(again).toEqual({ workflowId: NOTIFICATION_DISPATCHER_WORKFLOW_ID, runId: firstRunId });
  const d = await dispatcher().describe();
  expect(d.status.name).toBe('RUNNING');
  expect(d.taskQueue).toBe(TASK_QUEUES.io);
  expect(d.typedSearchAttributes.get(SEARCH_ATTRIBUTES.jobType)).toBe('notifications');
});

test('a notificationsEnqueued signal wakes it: delivered to every channel in well under its one-minute poll', async () => {
  await idle();
  const k = key('wake');
  const t0 = Date.now();
  const { id } = await enqueueNotification(pool, { kind: 'approval.requested', severity: 'info', subject: 'Approve: buy 10 IDX', dedupeKey: k });
  await expect(wake()).resolves.toBeUndefined(); // rejects when no dispatcher runs
  const sent = await eventually(() => row(k), (r) => r.status === 'sent', 10_000);
  const latencyMs = Date.now() - t0;
  process.stderr.write(`[notifications] enqueue -> delivered after a wake signal: ${latencyMs} ms\n`);
  expect(latencyMs).toBeLessThan(5_000);
  expect([...sent.delivered_channels].sort()).toEqual(['log', 'slack', 'telegram', 'webhook']);
  expect(hooksFor(k)).toHaveLength(1);
  expect(receiver.requests.filter((r) => r.path.startsWith('/slack/') && JSON.stringify(r.json).includes(`#${id}"`))).toHaveLength(1);
  expect(receiver.requests.filter((r) => r.path.startsWith('/bot') && String(r.json?.text).endsWith(`#${id}`))).toHaveLength(1);
});

test('the outbox listener wakes it for each row enqueued by a caller that sends no signal, for a dead row retried, and again after its connection is cut', async () => {
  const name = `outbox-listener-test-${randomUUID().slice(0, 8)}`;
  const listening = async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`, [name])).rows[0]!.n;
  const listener = listenForEnqueuedNotifications({ connectionString: testStack().DATABASE_URL, temporal: client, logger: createLogger('warn', {}, logs), applicationName: name });
  try {
    for (const round of ['listening', 'after its connection was cut']) {
      await eventually(listening, (n) => n === 1, 10_000);
      await idle();
      const k = key('listener');
      const t0 = Date.now();
      await enqueueNotification(pool, { kind: 'approval.requested', severity: 'info', subject: `Approve: buy 10 IDX (${round})`, dedupeKey: k });
      await eventually(() => row(k), (r) => r.status === 'sent', 10_000);
      const latencyMs = Date.now() - t0;
      process.stderr.write(`[notifications] enqueue -> delivered, woken by the outbox listener (${round}): ${latencyMs} ms\n`);
      expect(latencyMs).toBeLessThan(5_000); // its poll is a minute: only the listener's wake sends it this soon
      expect(hooksFor(k)).toHaveLength(1);
      if (round === 'listening') {
        // A dead row an operator retries is woken for too (an update, not an insert).
        await pool.query(`UPDATE notifications SET status = 'dead', delivered_channels = '{}' WHERE dedupe_key = $1`, [k]); // as if every channel had failed
        await idle();
        const t1 = Date.now();
        expect(await requeueDeadNotification(pool, (await row(k)).id)).toBe(true);
        await eventually(() => row(k), (r) => r.status === 'sent', 10_000);
        expect(Date.now() - t1).toBeLessThan(5_000);
        expect(hooksFor(k)).toHaveLength(2);
      }
      // Postgres drops the listener's connection (a restart, a failover): it comes back by itself.
      if (round === 'listening') expect((await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [name])).rowCount).toBe(1);
    }
  } finally {
    await listener.close();
  }
  await eventually(listening, (n) => n === 0, 5_000);
});

test('a receiver answering 500 is retried when its backoff is due (not at the next poll) and delivered once it recovers', async () => {
  await idle();
  const k = key('flaky');
  let calls = 0;
  receiver.respond = (r) => (r.json?.dedupeKey === k && ++calls <= 2 ? { status: 500, body: 'down for maintenance' } : OK);
  await enqueueNotification(pool, { kind: 'eod.not_flat', severity: 'critical', subject: 'Not flat at close', dedupeKey: k, channels: ['webhook'] });
  await wake();
  const sent = await eventually(() => row(k), (r) => r.status === 'sent', 15_000);
  expect(sent).toMatchObject({ attempts: 3, delivered_channels: ['webhook'], last_error: null });
  const at = hooksFor(k).map((r) => r.at);
  expect(at).toHaveLength(3);
  const gaps = [at[1]! - at[0]!, at[2]! - at[1]!];
  process.stderr.write(`[notifications] retry gaps after 500s: ${gaps.join(' ms, ')} ms (base ${BACKOFF_BASE_MS} ms)\n`);
  // Attempt n waits base * 2^(n-1) * [0.5, 1) (exact delays: outbox.test.ts); the dispatcher sleeps until then, not
  // for its one-minute poll. The dev server fires short timers about 1 s late, so only bounds are checked here.
  expect(gaps[0]).toBeGreaterThanOrEqual(BACKOFF_BASE_MS * 0.5 - 20);
  expect(gaps[1]).toBeGreaterThanOrEqual(BACKOFF_BASE_MS * 2 * 0.5 - 20);
  expect(Math.max(...gaps)).toBeLessThan(5_000);
});

test('a receiver that always answers 500 makes the row dead after 3 attempts, and then it is left alone', async () => {
  await idle();
  const k = key('always-500');
  receiver.respond = (r) => (r.json?.dedupeKey === k ? { status: 500 } : OK);
  const before = (await dispatcher().query(notificationDispatchStateQuery)).totals.dead;
  await enqueueNotification(pool, { kind: 'reconciliation.unknown_order', severity: 'critical', subject: 'Unknown order', dedupeKey: k, channels: ['webhook', 'log'] });
  await wake();
  const dead = await eventually(() => row(k), (r) => r.status === 'dead', 15_000);
  expect(dead).toMatchObject({ attempts: 3, last_error: 'webhook: HTTP 500', delivered_channels: ['log'], sent_at: null });
  expect(hooksFor(k)).toHaveLength(3);
  // The row turns dead inside the round's activity; the workflow counts it once that activity completes.
  const totals = await eventually(() => dispatcher().query(notificationDispatchStateQuery).then((s) => s.totals), (t) => t.dead >= before + 1, 5_000);
  expect(totals.dead).toBe(before + 1);
  await wake();
  await new Promise((r) => setTimeout(r, 1_000));
  expect(hooksFor(k)).toHaveLength(3);
});

test('workflow code that enqueues (once per key) and wakes the dispatcher gets the notification sent at once', async () => {
  await idle();
  const workflowId = `notify-twice-${randomUUID()}`;
  const t0 = Date.now();
  const result = await client.workflow.execute<typeof notifyTwiceWorkflow>('notifyTwiceWorkflow', { workflowId, taskQueue: FIXTURE_QUEUE, args: ['Approval expired'] });
  expect(result).toEqual([{ id: result[0]!.id, created: true }, { id: result[0]!.id, created: false }]);
  const sent = await eventually(() => getNotification(pool, result[0]!.id), (r) => r?.status === 'sent', 10_000);
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(sent).toMatchObject({ dedupe_key: `${workflowId}:notify-test`, kind: 'test.workflow_notify', severity: 'warning' });
  expect(hooksFor(`${workflowId}:notify-test`)).toHaveLength(1);
});

test('it continues as new every roundsPerRun rounds, carrying its totals, and no run has a secret in its history', async () => {
  const before = await dispatcher().query(notificationDispatchStateQuery);
  // Each wake is one round; 8 rounds per run.
  for (let i = 0; i < 10; i++) {
    await wake();
    await new Promise((r) => setTimeout(r, 100));
  }
  const after = await eventually(() => dispatcher().query(notificationDispatchStateQuery), (s) => s.totals.rounds >= before.totals.rounds + 8);
  expect(after.totals.sent).toBeGreaterThanOrEqual(before.totals.sent);
  const latest = await dispatcher().describe();
  expect(latest.runId).not.toBe(firstRunId);

  // Follow the chain of runs from the first, reading every history.
  const histories: History[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: History = await client.workflow.getHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID, runId).fetchHistory();
    histories.push(history);
    const events = history.events ?? [];
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  expect(histories.length).toBeGreaterThanOrEqual(2);
  // Every run replays against the io bundle (signals that arrived mid-round, cancelled timers, continue-as-new).
  for (const h of histories) await Worker.runReplayHistory({ workflowBundle: { codePath: path.join(testStack().WORKFLOW_BUNDLE_DIR, 'io.js') } }, h);
  // RECORD_NOTIFICATION_HISTORY=1 refreshes the committed history that replay.test.ts replays.
  if (process.env.RECORD_NOTIFICATION_HISTORY) writeFileSync(path.join(__dirname, 'histories', 'notification-dispatch--continue-as-new.json'), historyToJSON(histories[0]!));
  const texts = histories.map(historyText);
  const all = texts.join('\n');
  expect(all).toContain('"pollIntervalMs":60000'); // payloads were decoded: the haystack is real
  expect(all).toContain('"claimed":');
  expect(all).not.toContain(CANARY);
  expect(logs.raw.join('')).not.toContain(CANARY);
  expect(logs.raw.length).toBeGreaterThan(0);
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM notifications WHERE last_error LIKE $1', [`%${CANARY}%`]);
  expect(Number(rows[0]!.n)).toBe(0);
});

test('a dispatcher that is not running does not lose notifications: the next ensure starts one that drains them', async () => {
  await dispatcher().terminate('simulating a dispatcher that is gone');
  const workflowId = `notify-twice-${randomUUID()}`;
  const [{ id }] = await client.workflow.execute<typeof notifyTwiceWorkflow>('notifyTwiceWorkflow', { workflowId, taskQueue: FIXTURE_QUEUE, args: ['Nobody is listening'] });
  await new Promise((r) => setTimeout(r, 300));
  expect((await getNotification(pool, id))?.status).toBe('pending');
  const restarted = await ensureNotificationDispatcher(client, { pollIntervalMs: POLL_MS, minSleepMs: 20 });
  expect(restarted.runId).not.toBe(firstRunId);
  await eventually(() => getNotification(pool, id), (r) => r?.status === 'sent', 10_000);
});
