import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createDeploymentCommandActivities } from '../../activities/deployment-commands';
import { createDeploymentActivities } from '../../activities/deployments';
import { cancelCommand, recordCommand } from '../../services/deployment-command-records';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { testPool } from '../helpers/db';

/**
 * What the runtime writes, against real Postgres: every write is keyed, so an activity retried after it committed
 * (the worker died before reporting) writes nothing twice; and params versions come from the API alone.
 */
let pool: Pool;

beforeAll(() => {
  pool = testPool();
});

afterAll(async () => {
  await pool?.end();
});

async function deployment(): Promise<string> {
  const id = randomUUID();
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 3, slow: 8 }, symbols: ['RW'], timeframe: '1d', accountId: 'rw', broker: 'paper' });
  await pool.query(`INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, 'rw', 'paper', 'sma-cross', $3, 'running', 'test')`, [
    id,
    `deployment-${id}`,
    JSON.stringify(spec),
  ]);
  await pool.query(`INSERT INTO deployment_params (deployment_id, version, params, created_by) VALUES ($1, 1, '{"fast":3,"slow":8}', 'test')`, [id]);
  return id;
}

const audit = async (id: string) => (await pool.query<{ action: string; detail: Record<string, unknown> }>('SELECT action, detail FROM audit_log WHERE subject = $1 ORDER BY id', [id])).rows;

test('setDeploymentStatus: the row, its audit row and its alert in one transaction; a retry with the same key writes nothing twice', async () => {
  const id = await deployment();
  const { setDeploymentStatus } = createDeploymentActivities({ db: pool });
  const change = { deploymentId: id, status: 'failed' as const, by: 'runtime', key: `deployment-${id}:status:1`, reason: 'unknown broker "alpaca"', alert: true };
  await setDeploymentStatus(change);
  await setDeploymentStatus(change); // a retry after the first attempt committed
  await Promise.all([setDeploymentStatus(change), setDeploymentStatus(change)]); // and two at once
  expect((await pool.query('SELECT status, status_reason FROM deployments WHERE id = $1', [id])).rows).toEqual([{ status: 'failed', status_reason: 'unknown broker "alpaca"' }]);
  expect((await audit(id)).map((a) => a.action)).toEqual(['deployment.failed']);
  const alerts = await pool.query(`SELECT kind FROM notifications WHERE payload->>'deploymentId' = $1`, [id]);
  expect(alerts.rows).toEqual([{ kind: 'deployment.failed' }]);
  // The next change has the next key: written.
  await setDeploymentStatus({ ...change, status: 'stopped', key: `deployment-${id}:status:2`, alert: false });
  expect((await audit(id)).map((a) => a.action)).toEqual(['deployment.failed', 'deployment.stopped']);
});

test('applyCommand: compare-and-set; a retry finds it applied and writes nothing; a command the API cancelled is never applied', async () => {
  const id = await deployment();
  const { applyCommand } = createDeploymentCommandActivities({ db: pool });
  const recorded = await recordCommand(pool, { deploymentId: id, kind: 'params', by: 'tom', params: { fast: 4, slow: 9 } });
  const commandId = recorded!.command.id;
  const input = {
    deploymentId: id, commandId, kind: 'params' as const, by: 'tom', outcome: 'applied' as const,
    row: { status: 'running' as const, reason: null, paramsVersion: 2 }, params: { version: 2, params: { fast: 4, slow: 9 } }, result: { status: 'running', cycle: 7, paramsVersion: 2, detail: 'params v2 from cycle 8' },
  };
  expect(await applyCommand(input)).toEqual({ state: 'applied', result: input.result });
  expect(await applyCommand(input)).toEqual({ state: 'applied', result: input.result }); // the retry
  expect((await pool.query('SELECT params_version FROM deployments WHERE id = $1', [id])).rows[0]).toEqual({ params_version: 2 });
  expect((await pool.query('SELECT version FROM deployment_params WHERE deployment_id = $1 ORDER BY version', [id])).rows).toEqual([{ version: 1 }, { version: 2 }]);
  expect((await audit(id)).map((a) => a.action)).toEqual(['deployment.params', 'deployment.params.applied']);

  const pause = await recordCommand(pool, { deploymentId: id, kind: 'pause', by: 'tom' });
  expect((await cancelCommand(pool, pause!.command.id, 'api', 'Temporal was unreachable'))?.state).toBe('cancelled');
  const late = await applyCommand({ ...input, commandId: pause!.command.id, kind: 'pause', params: undefined, row: { status: 'paused', reason: 'x', paramsVersion: 2 } });
  expect(late.state).toBe('cancelled');
  expect((await pool.query('SELECT status FROM deployments WHERE id = $1', [id])).rows[0]).toEqual({ status: 'running' });
});

test('checkCommandMessages: one audit row per message, also when the batch is checked twice', async () => {
  const id = await deployment();
  const other = await deployment();
  const { checkCommandMessages } = createDeploymentCommandActivities({ db: pool });
  const foreign = (await recordCommand(pool, { deploymentId: other, kind: 'stop', by: 'tom' }))!.command.id;
  const mine = (await recordCommand(pool, { deploymentId: id, kind: 'pause', by: 'tom' }))!.command.id;
  const batch = {
    deploymentId: id,
    runKey: 'run-1',
    dropped: 3,
    messages: [
      { seq: 1, via: 'signal' as const, name: 'deploymentCommand', commandId: randomUUID() },
      { seq: 2, via: 'signal' as const, name: 'deploymentCommand', commandId: foreign },
      { seq: 3, via: 'update' as const, name: 'deploymentCommand', refused: 'malformed' as const, error: 'commandId: must be a uuid', sample: '{"commandId":42}' },
      { seq: 4, via: 'signal' as const, name: 'resetBreaker', refused: 'unknown-name' as const, error: 'no signal named "resetBreaker"' },
      { seq: 5, via: 'update' as const, name: 'deploymentCommand', commandId: mine },
    ],
  };
  const first = await checkCommandMessages(batch);
  expect(first.checked.map((c) => c.verdict)).toEqual(['forged', 'foreign', 'malformed', 'unknown-name', 'recorded']);
  expect(first.recorded.map((c) => c.id)).toEqual([mine]);
  await checkCommandMessages(batch); // a retry of the same batch
  const rows = await audit(id);
  expect(rows.filter((r) => r.detail.key !== undefined).map((r) => r.action)).toEqual([
    'deployment.command.forged',
    'deployment.command.foreign',
    'deployment.command.malformed',
    'deployment.message.unknown',
    'deployment.message.flood',
  ]);
  expect(rows.find((r) => r.action === 'deployment.message.flood')?.detail).toMatchObject({ dropped: 3 });
});

test('params versions come from the API alone: max + 1 over stored versions and every version promised to a command, cancelled ones too', async () => {
  const id = await deployment();
  const v = async () => (await recordCommand(pool, { deploymentId: id, kind: 'params', by: 'tom', params: { fast: 3, slow: 9 } }))!.command.payload.version;
  expect(await v()).toBe(2);
  const three = await recordCommand(pool, { deploymentId: id, kind: 'params', by: 'tom', params: { fast: 3, slow: 9 } });
  expect(three!.command.payload.version).toBe(3);
  await cancelCommand(pool, three!.command.id, 'api', 'test');
  expect(await v()).toBe(4);
  // concurrent recordings serialize on the row lock: no version twice
  const many = await Promise.all(Array.from({ length: 8 }, () => v()));
  expect([...many].sort((a, b) => Number(a) - Number(b))).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
});
