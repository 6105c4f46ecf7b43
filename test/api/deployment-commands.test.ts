import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { freePort } from '../../brokers/paper/start';
import { buildApp } from '../../clients/api/app';
import { recordCommand } from '../../services/deployment-command-records';
import { createPgPool, createRedis } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { uniqueSymbol, lastCycle } from '../helpers/db';
import { testConfig } from '../helpers/stack';
import { AUTH, type ApiHarness } from './harness';
import { auditRows, eventually, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * The command model end to end: params versions come from the API alone (max + 1 under the row lock), and a command
 * counts whether or not its message arrives: the runtime applies what the API recorded, in the order it was
 * recorded; a command whose update is not answered in time (worker down) is applied when the runtime is back; one
 * whose message was lost altogether is found at the next cycle. When Temporal cannot be reached, nothing happens.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;

beforeAll(async () => {
  rt = await startRuntimeHarness('cmd');
  ({ h, pool } = rt);
}, 60_000);

afterAll(async () => {
  await rt?.close();
});

const post = (id: string, action: string, payload: Record<string, unknown> = {}) => h.app.inject({ method: 'POST', url: `/v1/deployments/${id}/${action}`, headers: AUTH.trader, payload });
const row = async (id: string) => (await pool.query<{ status: string; params_version: number }>('SELECT status, params_version FROM deployments WHERE id = $1', [id])).rows[0]!;
const commands = async (id: string) =>
  (await pool.query<{ id: string; kind: string; state: string; version: number | null }>(
    `SELECT id, kind, state, (payload->>'version')::int AS version FROM deployment_commands WHERE deployment_id = $1 ORDER BY requested_at`,
    [id],
  )).rows;

async function cyclingDeployment(prefix: string) {
  const symbol = uniqueSymbol(prefix);
  await rt.storePath(symbol, Array.from({ length: 900 }, (_, i) => 100 - i * 0.01)); // falling: the runtime only holds
  const d = await rt.createDeployment(symbol, {});
  await eventually('cycling', () => lastCycle(pool, d.id), (c) => c >= 1);
  return d;
}

test('params under concurrent updates: the API assigns 2..11 once each, the runtime applies them all in that order, row and runtime end at 11', async () => {
  const d = await cyclingDeployment('PRM');
  const N = 10;
  const answers = await Promise.all(Array.from({ length: N }, (_, i) => post(d.id, 'params', { params: { fast: 2 + (i % 3), slow: 10 + i } })));
  expect(answers.map((a) => a.statusCode)).toEqual(Array(N).fill(202));
  const versions = answers.map((a) => a.json<{ version: number }>().version).sort((a, b) => a - b);
  expect(versions).toEqual(Array.from({ length: N }, (_, i) => i + 2));
  expect(answers.every((a) => a.json<{ applied: boolean }>().applied)).toBe(true);
  // each answer reports the version its own command made current (or a later one, applied in the same batch)
  for (const a of answers) expect(a.json<{ paramsVersion: number; version: number }>().paramsVersion).toBeGreaterThanOrEqual(a.json<{ version: number }>().version);

  expect(await row(d.id)).toEqual({ status: 'running', params_version: N + 1 });
  expect((await rt.state(d.workflowId)).paramsVersion).toBe(N + 1);
  const stored = await pool.query<{ version: number }>('SELECT version FROM deployment_params WHERE deployment_id = $1 ORDER BY version', [d.id]);
  expect(stored.rows.map((r) => r.version)).toEqual(Array.from({ length: N + 1 }, (_, i) => i + 1));
  const recorded = await commands(d.id);
  expect(recorded.map((c) => c.state)).toEqual(Array(N).fill('applied'));
  expect(recorded.map((c) => c.version)).toEqual(versions); // recorded in version order
  // applied in that order too: the runtime's audit rows name the versions ascending
  const applied = (await auditRows(pool, d.id)).filter((a) => a.action === 'deployment.params.applied').map((a) => a.detail.paramsVersion);
  expect(applied).toEqual(versions);
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);

test('a command whose update is not answered in time (worker down) is 202 applied: false, and applied when the worker is back', async () => {
  const d = await cyclingDeployment('LATE');
  await rt.stopWorker();
  let res;
  const t0 = Date.now();
  try {
    res = await post(d.id, 'pause', { reason: 'while the worker is down' });
  } finally {
    await rt.startWorker();
  }
  expect(res.statusCode).toBe(202);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000); // the API waited for its answer
  const body = res.json<{ commandId: string; applied: boolean; status: string }>();
  expect(body).toMatchObject({ applied: false, status: 'running' });
  // Applied later: the row, the runtime and the command agree.
  await eventually('applied', () => row(d.id), (r) => r.status === 'paused', 60_000);
  expect((await rt.state(d.workflowId)).status).toBe('paused');
  expect((await commands(d.id)).find((c) => c.id === body.commandId)?.state).toBe('applied');
  expect((await post(d.id, 'resume')).json()).toMatchObject({ applied: true, status: 'running' });
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);

test('a command recorded whose message never came is found and applied at the next cycle', async () => {
  const d = await cyclingDeployment('LOST');
  // Recorded as the API records it, and no message sent (as if the API died right after its commit).
  const recorded = await recordCommand(pool, { deploymentId: d.id, kind: 'params', by: 'tom', params: { fast: 3, slow: 7 } });
  expect(recorded?.command.payload).toMatchObject({ version: 2 });
  await eventually('applied from the cycle', () => row(d.id), (r) => r.params_version === 2, 30_000);
  expect((await rt.state(d.workflowId)).paramsVersion).toBe(2);
  expect((await commands(d.id))[0]).toMatchObject({ kind: 'params', state: 'applied' });
  expect((await auditRows(pool, d.id)).filter((a) => a.action === 'deployment.command.duplicate')).toEqual([]);
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);

test('Temporal unreachable: 503 and the command is cancelled (never applied later, not by the paused runtime\'s 30 s look for lost commands either); unless the runtime applied it meanwhile', async () => {
  const d = await cyclingDeployment('DOWN');
  const config = testConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  const logger = createLogger('silent');
  const db = createPgPool(config, logger, 'api-test');
  const redis = createRedis(config, logger);
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const down = await buildApp({ config, db, redis, temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }), logger });
  try {
    // Cycling every second, the runtime finds the recorded command before the API gives up on Temporal: the CAS that
    // would cancel it finds it applied, and the API answers with the runtime's answer.
    const raced = await down.inject({ method: 'POST', url: `/v1/deployments/${d.id}/params`, headers: AUTH.trader, payload: { params: { fast: 3, slow: 7 } } });
    expect(raced.statusCode).toBe(202);
    expect(raced.json()).toMatchObject({ applied: true, version: 2, paramsVersion: 2 });

    // Paused, the runtime looks for commands only every 30 s: the API cancels first, and answers 503.
    expect((await post(d.id, 'pause')).json()).toMatchObject({ applied: true, status: 'paused' });
    const res = await down.inject({ method: 'POST', url: `/v1/deployments/${d.id}/resume`, headers: AUTH.trader, payload: {} });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  } finally {
    await down.close();
    redis.disconnect();
    await Promise.allSettled([db.end(), connection.close()]);
  }
  expect((await commands(d.id)).map((c) => [c.kind, c.state])).toEqual([['params', 'applied'], ['pause', 'applied'], ['resume', 'cancelled']]);
  expect((await auditRows(pool, d.id)).filter((a) => a.action.endsWith('.cancelled')).map((a) => a.action)).toEqual(['deployment.resume.cancelled']);
  // Paused, the runtime looks for lost commands on its own (every 30 s): a resume recorded without a message after
  // the cancelled one counts, and only it. Had the look applied the cancelled resume, this one would be refused.
  const lost = await recordCommand(pool, { deploymentId: d.id, kind: 'resume', by: 'tom' });
  await eventually('resumed by the re-check', () => row(d.id), (r) => r.status === 'running', 45_000);
  expect(await row(d.id)).toEqual({ status: 'running', params_version: 2 });
  expect((await commands(d.id)).map((c) => [c.kind, c.state])).toEqual([['params', 'applied'], ['pause', 'applied'], ['resume', 'cancelled'], ['resume', 'applied']]);
  const resumes = (await auditRows(pool, d.id)).filter((a) => a.action === 'deployment.resume.applied' || a.action === 'deployment.resume.refused');
  expect(resumes.map((a) => [a.action, a.detail.commandId])).toEqual([['deployment.resume.applied', lost?.command.id]]);
  const cycle = await lastCycle(pool, d.id);
  await eventually('cycling again', () => lastCycle(pool, d.id), (c) => c > cycle);
  // A later params command gets version 3.
  expect((await post(d.id, 'params', { params: { fast: 3, slow: 8 } })).json()).toMatchObject({ version: 3, applied: true, paramsVersion: 3 });
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);
