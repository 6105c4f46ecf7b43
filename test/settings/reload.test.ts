/**
 * Settings reload in a real IO worker process (workers/settings-reload.ts): SETTINGS_FILE is rewritten, then the
 * worker gets SIGHUP or the API's POST /v1/maintenance/settings/reload. New values take effect without a restart
 * (a notification reaches a newly configured webhook; the paper broker's guard computes with the new bucket, seen in
 * its Redis state); a bad value is refused with its variable named and the previous settings stay in force.
 */
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { guardRedisKeys } from '../../brokers/guard/redis-store';
import { brokerGuardKeys } from '../../brokers/guard/accounts';
import { startPaperBroker, type PaperBrokerProcess } from '../../brokers/paper/start';
import { enqueueNotification, getNotification } from '../../db/sql/notifications';
import { startApiChild, type ApiChild } from '../../harness/processes/api-child';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { NOTIFICATION_DISPATCHER_WORKFLOW_ID, notificationsEnqueuedSignal } from '../../workflows/notifications/messages';
import { startReceiver, type Receiver } from '../notifications/receiver';
import { testPool, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, type RunningProcess } from '../helpers/processes';
import { SHARED_DATA, TEST_API_KEYS, TEST_KEYS, testConfig, testStack } from '../helpers/stack';

const MINUTES = path.join(SHARED_DATA, '2006-01-02-volume-min-001.txt');
const account = `settings-${Date.now().toString(36)}`;
const symbol = uniqueSymbol('SET');
const SECRET_TOKEN = 'T0KEN-settings-reload-secret';
const settingsFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'settings-reload-')), 'settings.json');
const writeSettings = (vars: Record<string, string | number>) => writeFileSync(settingsFile, JSON.stringify(vars));
const trader = { authorization: `Bearer ${TEST_KEYS.trader}`, 'content-type': 'application/json' };
const admin = { authorization: `Bearer ${TEST_KEYS.admin}`, 'content-type': 'application/json' };

let pool: Pool;
let redis: Redis;
let paper: PaperBrokerProcess;
let worker: RunningProcess;
let api: ApiChild;
let receiver: Receiver;
let client: Client;
let connection: Connection;
let guardState: string;
let hookUrl: string;
let deploymentId: string;

/** The paper guard's bucket as the worker last wrote it (every admitted call writes capacity and refill). */
const bucket = async () => {
  const [capacity, refillPerMs, seq] = await redis.hmget(guardState, 'capacity', 'refillPerMs', 'seq');
  return { capacity: Number(capacity), refillPerMin: Math.round(Number(refillPerMs) * 60_000), seq: Number(seq) };
};
/** Enqueues a notification for every configured channel and wakes the dispatcher; resolves with its row once settled. */
async function notify(name: string) {
  const dedupeKey = `settings-reload:${name}:${Date.now()}`;
  const { id } = await enqueueNotification(pool, { kind: 'test.settings', severity: 'info', subject: `settings reload ${name}`, dedupeKey });
  await client.workflow.getHandle(NOTIFICATION_DISPATCHER_WORKFLOW_ID).signal(notificationsEnqueuedSignal);
  const row = await waitFor(`notification ${name} settled`, async () => {
    const r = await getNotification(pool, id);
    return r && r.status !== 'pending' && r.status !== 'sending' ? r : undefined;
  }, 30_000);
  return { row, dedupeKey, received: () => receiver.requests.some((q) => q.raw.includes(dedupeKey)) };
}
/** SIGHUP to the worker's node process (its pid is in every log line; tsx relays only SIGINT and SIGTERM). */
const hup = () => process.kill(Number(/"pid":(\d+)/.exec(worker.output())![1]), 'SIGHUP');
/** This worker's answer to a reload command (identity io-<pid>@host). */
const mine = (r: { workers: Array<{ identity: string; ok: boolean; changed: string[]; problems: string[] }> }) => {
  const pid = /"pid":(\d+)/.exec(worker.output())![1];
  return r.workers.find((w) => w.identity.startsWith(`io-${pid}@`))!;
};
const lastWorkerLine = (msg: string) => worker.output().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).pop();

beforeAll(async () => {
  const stack = testStack();
  pool = testPool();
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
  receiver = await startReceiver();
  hookUrl = `${receiver.url}/hooks/${SECRET_TOKEN}`;
  paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  guardState = guardRedisKeys(brokerGuardKeys({ PAPER_BROKER_URL: paper.url, ALPACA_BASE_URL: 'https://unused.invalid' }).paper!)[0];
  writeSettings({});
  const env = {
    PATH: process.env.PATH!, HOME: process.env.HOME!,
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, PAPER_BROKER_URL: paper.url, SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000',
  };
  worker = startWorker('io', { ...env, LOG_LEVEL: 'info', SETTINGS_FILE: settingsFile });
  api = await startApiChild({ ...env, LOG_LEVEL: 'warn', API_KEYS: TEST_API_KEYS }, path.join(__dirname, '..', '.artifacts', 'settings', 'api.log'));
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
  await waitFor('the IO worker to start', async () => worker.output().includes('"msg":"worker started"'), 60_000);
  const imported = await fetch(`${api.url}/v1/bars/import?symbol=${symbol}&timeframe=1m`, { method: 'POST', headers: { authorization: trader.authorization, 'content-type': 'text/csv' }, body: readFileSync(MINUTES) });
  expect(imported.status).toBe(200);
  // A replayed deployment keeps calling the paper broker through the worker's guard (each call writes the bucket).
  const res = await fetch(`${api.url}/v1/deployments`, {
    method: 'POST',
    headers: trader,
    body: JSON.stringify({ accountId: account, strategy: 'sma-cross', params: { fast: 2, slow: 5 }, symbols: [symbol], timeframe: '1m', calendar: '24x7', replay: { from: '2006-01-03T09:30:00Z', speed: 60 } }),
  });
  expect(res.status).toBe(202);
  deploymentId = ((await res.json()) as { id: string }).id;
}, 120_000);

afterAll(async () => {
  if (worker) writeFileSync(path.join(__dirname, '..', '.artifacts', 'settings', 'worker.log'), worker.output());
  if (deploymentId) await fetch(`${api.url}/v1/deployments/${deploymentId}/stop`, { method: 'POST', headers: trader, body: '{}' }).catch(() => undefined);
  await worker?.stop();
  await api?.stop();
  await paper?.stop();
  await receiver?.close();
  await connection?.close();
  redis?.disconnect();
  await pool?.end();
});

test('SIGHUP: a new webhook and a new rate limit take effect; a bad value is refused by name and the old settings stay', async () => {
  // Before: the environment's defaults (burst 10, 6000 a minute) and the log channel only.
  await waitFor('the guard bucket at its defaults', async () => (await bucket()).capacity === 10, 60_000);
  const before = await notify('before');
  expect(before.row.status).toBe('sent');
  expect(before.received()).toBe(false);

  writeSettings({ NOTIFY_WEBHOOK_URL: hookUrl, BROKER_RATE_LIMIT_BURST: 3, PAPER_BROKER_RATE_LIMIT_PER_MIN: 600 });
  hup();
  await waitFor('the reload logged', async () => lastWorkerLine('settings reloaded'));
  expect(JSON.parse(lastWorkerLine('settings reloaded')!).changed).toEqual(['PAPER_BROKER_RATE_LIMIT_PER_MIN', 'BROKER_RATE_LIMIT_BURST', 'NOTIFY_WEBHOOK_URL']);
  const after = await notify('after');
  expect(after.row.status).toBe('sent');
  expect(after.row.delivered_channels.sort()).toEqual(['log', 'webhook']);
  expect(after.received()).toBe(true);
  await waitFor('the guard bucket at burst 3', async () => (await bucket()).capacity === 3, 60_000);
  expect((await bucket()).refillPerMin).toBe(597);

  // A bad value: refused whole (the valid webhook line with it changes nothing either), named in the log.
  writeSettings({ NOTIFY_WEBHOOK_URL: `${receiver.url}/other/${SECRET_TOKEN}`, BROKER_RATE_LIMIT_BURST: 0, PAPER_BROKER_RATE_LIMIT_PER_MIN: 600 });
  hup();
  await waitFor('the refusal logged', async () => lastWorkerLine('settings reload refused; previous settings stay in force'));
  const refusal = JSON.parse(lastWorkerLine('settings reload refused; previous settings stay in force')!) as { problems: string[] };
  expect(refusal.problems).toEqual([expect.stringMatching(/^BROKER_RATE_LIMIT_BURST: /)]);
  const still = await notify('still');
  expect(still.received()).toBe(true);
  expect(receiver.requests.filter((q) => q.raw.includes(still.dedupeKey)).map((q) => q.path)).toEqual([`/hooks/${SECRET_TOKEN}`]);
  const seq = (await bucket()).seq;
  await waitFor('more guarded calls', async () => (await bucket()).seq > seq + 2, 60_000);
  expect((await bucket()).capacity).toBe(3);
  expect(worker.child.exitCode).toBeNull();
  expect(worker.output()).not.toContain(SECRET_TOKEN);
}, 240_000);

test('POST /v1/maintenance/settings/reload reaches the running worker, is audited, and refuses a bad value by name', async () => {
  const reload = (headers: Record<string, string> = admin) => fetch(`${api.url}/v1/maintenance/settings/reload`, { method: 'POST', headers, body: JSON.stringify({ reason: 'settings test' }) });
  expect((await reload({ ...admin, authorization: `Bearer ${TEST_KEYS.trader}` })).status).toBe(403);
  expect((await fetch(`${api.url}/v1/maintenance/settings/reload`, { method: 'POST', headers: admin, body: '{}' })).status).toBe(400);

  writeSettings({ NOTIFY_WEBHOOK_URL: hookUrl, BROKER_RATE_LIMIT_BURST: 4, PAPER_BROKER_RATE_LIMIT_PER_MIN: 600, MARKET_DATA_MISSING_WARNING: 0.1 });
  const ok = await reload();
  expect(ok.status).toBe(200);
  const okBody = (await ok.json()) as { id: string; ok: boolean; listening: number; missing: number; workers: Array<{ identity: string; ok: boolean; changed: string[]; problems: string[] }> };
  // Tests run in band, so this worker is normally the only listener; others (if any) answer for themselves.
  expect(okBody).toMatchObject({ ok: true, missing: 0 });
  expect(okBody.listening).toBeGreaterThanOrEqual(1);
  expect(mine(okBody)).toEqual({ identity: expect.stringMatching(/^io-\d+@/), ok: true, changed: ['BROKER_RATE_LIMIT_BURST', 'MARKET_DATA_MISSING_WARNING'], problems: [] });
  await waitFor('the guard bucket at burst 4', async () => (await bucket()).capacity === 4, 60_000);
  const audit = async (id: string) => (await pool.query<{ actor: string; action: string; detail: { reason: string } }>(`SELECT actor, action, detail FROM audit_log WHERE subject = 'settings' AND detail->>'id' = $1`, [id])).rows;
  expect(await audit(okBody.id)).toEqual([{ actor: 'ada', action: 'settings.reloaded', detail: expect.objectContaining({ reason: 'settings test' }) }]);

  // Out of range, and a variable that needs a restart: both named, nothing applied.
  writeSettings({ NOTIFY_WEBHOOK_URL: hookUrl, BROKER_RATE_LIMIT_BURST: 5, MARKET_DATA_MISSING_ERROR: 2 });
  const bad = (await (await reload()).json()) as typeof okBody;
  expect(bad).toMatchObject({ ok: false, missing: 0 });
  expect(mine(bad).problems).toEqual([expect.stringMatching(/^MARKET_DATA_MISSING_ERROR: /)]);
  const auditRows = await audit(bad.id);
  expect(auditRows.map((r) => r.action)).toEqual(['settings.reload-refused']);
  expect(JSON.stringify(auditRows)).toContain('MARKET_DATA_MISSING_ERROR');
  writeSettings({ DATABASE_URL: 'postgres://elsewhere/x' });
  const restart = (await (await reload()).json()) as typeof okBody;
  expect(mine(restart).problems).toEqual(['DATABASE_URL: is not a reloadable setting (restart to change it)']);
  const seq = (await bucket()).seq;
  await waitFor('more guarded calls', async () => (await bucket()).seq > seq + 2, 60_000);
  expect((await bucket()).capacity).toBe(4);
  expect(JSON.stringify(await pool.query(`SELECT detail FROM audit_log WHERE subject = 'settings'`))).not.toContain(SECRET_TOKEN);
}, 120_000);
