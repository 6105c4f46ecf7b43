import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Pool } from 'pg';
import { temporalCliPath } from '../../harness/stack/temporal';
import { deploymentCommandSignal, deploymentCommandUpdate, type CommandOutcome } from '../../workflows/deployment/messages';
import { uniqueSymbol, lastCycle } from '../helpers/db';
import { testStack } from '../helpers/stack';
import { AUTH, type ApiHarness } from './harness';
import { auditRows, eventually, startRuntimeHarness, type RuntimeHarness } from './runtime-harness';

/**
 * Messages that change a deployment count only when the API recorded them. This suite sends a running deployment
 * everything a hand (a plain Temporal client, the `temporal` CLI) can send instead: garbage, missing fields, wrong
 * types, negative periods, a huge version, ids nobody recorded, another deployment's command, a replayed real id,
 * the old signal names, unknown and reserved names, undecodable payloads, a cancel request. The deployment keeps
 * cycling, its status and params do not move (row and runtime agree), and each message leaves exactly one audit row.
 * The positive control: the same { commandId } shape for a command the API recorded is applied.
 */
let rt: RuntimeHarness;
let h: ApiHarness;
let pool: Pool;
const run = promisify(execFile);

beforeAll(async () => {
  rt = await startRuntimeHarness('forge');
  ({ h, pool } = rt);
}, 60_000);

afterAll(async () => {
  await rt?.close();
});

const REFUSED = ['deployment.command.forged', 'deployment.command.foreign', 'deployment.command.duplicate', 'deployment.command.malformed', 'deployment.message.unknown'];

async function deploymentRow(id: string) {
  return (await pool.query<{ status: string; params_version: number }>('SELECT status, params_version FROM deployments WHERE id = $1', [id])).rows[0]!;
}

async function refusedRows(id: string) {
  return (await auditRows(pool, id)).filter((a) => REFUSED.includes(a.action));
}

/** The `temporal` CLI against the test server. */
async function cli(args: string[]): Promise<string> {
  const stack = testStack();
  const { stdout } = await run(temporalCliPath(), [...args, '--address', stack.TEMPORAL_ADDRESS, '--namespace', stack.TEMPORAL_NAMESPACE], { timeout: 30_000 });
  return stdout;
}

test('forged and malformed messages from a plain client and the temporal CLI change nothing and leave one audit row each; recorded commands still work', async () => {
  const symbol = uniqueSymbol('FRG');
  await rt.storePath(symbol, Array.from({ length: 900 }, (_, i) => 100 - i * 0.01)); // falling: the runtime only holds
  const d = await rt.createDeployment(symbol, {});
  const other = await rt.createDeployment(symbol, {});
  await eventually('cycling', () => lastCycle(pool, d.id), (c) => c >= 2);

  // Positive control first: a command the API recorded, applied by the runtime.
  const paused = await h.app.inject({ method: 'POST', url: `/v1/deployments/${d.id}/pause`, headers: AUTH.trader, payload: { reason: 'control' } });
  expect(paused.statusCode).toBe(202);
  expect(paused.json()).toMatchObject({ applied: true, status: 'paused' });
  const pauseId = paused.json<{ commandId: string }>().commandId;
  const resumed = await h.app.inject({ method: 'POST', url: `/v1/deployments/${d.id}/resume`, headers: AUTH.trader });
  expect(resumed.json()).toMatchObject({ applied: true, status: 'running' });
  // A command recorded for the other deployment (its id is real, but not this deployment's).
  const foreign = await h.app.inject({ method: 'POST', url: `/v1/deployments/${other.id}/params`, headers: AUTH.trader, payload: { params: { fast: 3, slow: 9 } } });
  expect(foreign.json()).toMatchObject({ applied: true, version: 2 });
  const foreignId = foreign.json<{ commandId: string }>().commandId;
  await rt.stop(other.id);

  const before = await rt.state(d.workflowId);
  expect(before).toMatchObject({ status: 'running', paramsVersion: 1 });
  const refusedBefore = (await refusedRows(d.id)).length;
  expect(refusedBefore).toBe(0);

  // A plain client, not the API: every message below is one a hand can send.
  const plain = new Client({ connection: h.connection, namespace: testStack().TEMPORAL_NAMESPACE });
  const handle = plain.workflow.getHandle(d.workflowId);
  const signals: Array<[string, unknown, string]> = [
    ['deploymentCommand', 'garbage', 'deployment.command.malformed'],
    ['deploymentCommand', {}, 'deployment.command.malformed'],
    ['deploymentCommand', null, 'deployment.command.malformed'],
    ['deploymentCommand', { commandId: 42 }, 'deployment.command.malformed'],
    ['deploymentCommand', { commandId: randomUUID(), params: { fast: -5, slow: 0 } }, 'deployment.command.malformed'],
    ['deploymentCommand', { commandId: randomUUID(), version: 2 ** 31 }, 'deployment.command.malformed'],
    ['deploymentCommand', { commandId: randomUUID() }, 'deployment.command.forged'],
    ['deploymentCommand', { commandId: foreignId }, 'deployment.command.foreign'],
    ['deploymentCommand', { commandId: pauseId }, 'deployment.command.duplicate'],
    // the names the runtime used to obey, with the payloads that once got through
    ['updateDeploymentParams', { messageId: randomUUID(), params: { fast: -5, slow: 0 }, version: 99, by: 'mallory' }, 'deployment.message.unknown'],
    ['deploymentControl', { messageId: randomUUID(), action: 'pause', by: 'mallory' }, 'deployment.message.unknown'],
    ['resetBreaker', { messageId: randomUUID(), by: 'mallory', reason: 'let me trade' }, 'deployment.message.unknown'],
    ['approve', { approvalId: randomUUID(), approver: 'mallory' }, 'deployment.message.unknown'],
  ];
  for (const [name, arg] of signals) {
    if (name === 'deploymentCommand') await handle.signal(deploymentCommandSignal, arg as never);
    else await handle.signal(name, arg);
  }
  // Updates answer the sender: refused, with the reason; nothing changes.
  const updates: Array<[string, unknown, string]> = [
    ['deploymentCommand', { commandId: randomUUID() }, 'deployment.command.forged'],
    ['deploymentCommand', { commandId: 'not-a-uuid' }, 'deployment.command.malformed'],
    ['deploymentCommand', { commandId: pauseId }, 'deployment.command.duplicate'],
    ['pause', {}, 'deployment.message.unknown'],
  ];
  const answers: CommandOutcome[] = [];
  for (const [name, arg] of updates) {
    answers.push(name === 'deploymentCommand' ? await handle.executeUpdate(deploymentCommandUpdate, { args: [arg as never] }) : await handle.executeUpdate<CommandOutcome, [unknown]>(name, { args: [arg] }));
  }
  for (const a of answers) expect(a).toMatchObject({ state: 'refused', status: 'running', paramsVersion: 1 });
  expect(answers[0]!.detail).toMatch(/^forged: no command .* was recorded/);

  // The same through the temporal CLI: a forged id, a payload no converter can read, a reserved name (which the SDK
  // itself would otherwise turn into a workflow task failure on every retry), an update, and a cancel request.
  const w = ['--workflow-id', d.workflowId];
  await cli(['workflow', 'signal', ...w, '--name', 'deploymentCommand', '--input', JSON.stringify({ commandId: randomUUID() })]);
  await cli(['workflow', 'signal', ...w, '--name', 'deploymentCommand', '--input-meta', 'encoding=binary/weird', '--input', '"abc"']);
  await cli(['workflow', 'signal', ...w, '--name', '__temporal_evil', '--input', '1']);
  const cliUpdate = await cli(['workflow', 'update', 'execute', ...w, '--name', 'deploymentCommand', '--input', JSON.stringify({ commandId: randomUUID(), version: 99, params: { fast: -5 } })]);
  expect(cliUpdate).toMatch(/refused/);
  await cli(['workflow', 'cancel', ...w]);
  const cliExpected = ['deployment.command.forged', 'deployment.command.malformed', 'deployment.message.unknown', 'deployment.command.malformed', 'deployment.message.unknown'];

  const expected = [...signals.map((s) => s[2]), ...updates.map((u) => u[2]), ...cliExpected];
  const rows = await eventually('one audit row per message', () => refusedRows(d.id), (r) => r.length >= expected.length, 30_000);
  const count = (list: string[]) => list.reduce<Record<string, number>>((acc, a) => ({ ...acc, [a]: (acc[a] ?? 0) + 1 }), {});
  expect(count(rows.map((r) => r.action))).toEqual(count(expected));
  // Each row names the message: how it came, its name, and a sample of what it carried.
  expect(rows.find((r) => r.detail.name === 'updateDeploymentParams')?.detail).toMatchObject({ via: 'signal', sample: expect.stringContaining('"version":99') });
  expect(rows.find((r) => String(r.detail.name).startsWith('reserved:__temporal_evil'))).toBeDefined();
  expect(rows.find((r) => r.detail.via === 'cancel')).toBeDefined();
  expect(rows.find((r) => String(r.detail.sample).includes('cannot be decoded'))?.detail).toMatchObject({ via: 'signal', name: 'deploymentCommand' });

  // The deployment keeps cycling, and nothing moved: the row and the runtime agree.
  const cycleAfterMessages = await lastCycle(pool, d.id);
  await eventually('cycles after the messages', () => lastCycle(pool, d.id), (c) => c >= cycleAfterMessages + 3, 30_000);
  expect(await rt.state(d.workflowId)).toMatchObject({ status: 'running', paramsVersion: 1, breaker: 'none' });
  expect(await deploymentRow(d.id)).toEqual({ status: 'running', params_version: 1 });
  const params = await pool.query('SELECT version FROM deployment_params WHERE deployment_id = $1', [d.id]);
  expect(params.rows).toEqual([{ version: 1 }]);
  expect((await h.deps.temporal.workflow.getHandle(d.workflowId).describe()).status.name).toBe('RUNNING');
  // No workflow task ever failed: nothing a sender did reached code that could throw.
  const history = await h.deps.temporal.workflow.getHandle(d.workflowId).fetchHistory();
  expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  // Still exactly one row per message once everything has settled.
  expect((await refusedRows(d.id)).length).toBe(expected.length);

  // The positive control again, after all that: the API's command (same { commandId } shape) is applied.
  const res = await h.app.inject({ method: 'POST', url: `/v1/deployments/${d.id}/params`, headers: AUTH.trader, payload: { params: { fast: 3, slow: 6 } } });
  expect(res.json()).toMatchObject({ applied: true, version: 2, paramsVersion: 2 });
  expect(await deploymentRow(d.id)).toEqual({ status: 'running', params_version: 2 });
  expect((await rt.state(d.workflowId)).paramsVersion).toBe(2);
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);

test('a flood of forged signals is bounded: at most 100 wait, each batch of 50 is one local activity, the rest are counted in one row', async () => {
  const symbol = uniqueSymbol('FLD');
  await rt.storePath(symbol, Array.from({ length: 900 }, (_, i) => 100 - i * 0.01));
  const d = await rt.createDeployment(symbol, {});
  await eventually('cycling', () => lastCycle(pool, d.id), (c) => c >= 2);
  const handle = h.deps.temporal.workflow.getHandle(d.workflowId);
  // With the worker down the signals pile up at the server and reach the runtime in one activation.
  await rt.stopWorker();
  const N = 150;
  try {
    await Promise.all(Array.from({ length: N }, () => handle.signal(deploymentCommandSignal, { commandId: randomUUID() })));
  } finally {
    await rt.startWorker();
  }
  const flood = await eventually('the flood row', async () => (await auditRows(pool, d.id)).filter((a) => a.action === 'deployment.message.flood'), (r) => r.length > 0, 60_000);
  expect(flood).toHaveLength(1);
  expect(flood[0]!.detail).toMatchObject({ dropped: N - 100 });
  const rows = await eventually('a row per message taken in', () => refusedRows(d.id), (r) => r.length >= 100, 30_000);
  expect(rows.length).toBe(100);
  expect(rows.every((r) => r.action === 'deployment.command.forged')).toBe(true);
  // The rows are written by local activities inside the workflow task; their markers reach the history when that task completes.
  const checksIn = (history: Awaited<ReturnType<typeof handle.fetchHistory>>) =>
    (history.events ?? []).filter((e) => {
      const m = e.markerRecordedEventAttributes;
      return m?.markerName === 'core_local_activity' && defaultPayloadConverter.fromPayload<{ activity_type: string }>(m.details!.data!.payloads![0]!).activity_type === 'checkCommandMessages';
    }).length;
  const history = await eventually('the checks recorded in the history', () => handle.fetchHistory(), (hist) => checksIn(hist) > 0, 30_000);
  const checks = checksIn(history);
  expect((history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length).toBe(N);
  expect(checks).toBe(2); // 100 messages in batches of 50
  const cycle = await lastCycle(pool, d.id);
  await eventually('still cycling', () => lastCycle(pool, d.id), (c) => c >= cycle + 3);
  expect(await rt.state(d.workflowId)).toMatchObject({ status: 'running', paramsVersion: 1 });
  expect(await rt.stop(d.id)).toBe(202);
}, 120_000);
