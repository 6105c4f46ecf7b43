import { randomUUID } from 'node:crypto';
import { activeHalts } from '../../db/sql/trading-halts';
import { parseDeploymentSpec } from '../../domain/deployment/spec';
import { AUTH, startApi, type ApiHarness } from './harness';

/** The kill switch over HTTP: admin only, audited with the actor, visible to every role, off again. */
let h: ApiHarness;
const account = `ks-${randomUUID().slice(0, 8)}`;
const deploymentId = randomUUID();

beforeAll(async () => {
  h = await startApi();
  const spec = parseDeploymentSpec({ strategy: 'sma-cross', symbols: ['KS'], timeframe: '1d', accountId: account });
  await h.db.query(
    `INSERT INTO deployments (id, workflow_id, account_id, broker, strategy, spec, status, created_by) VALUES ($1, $2, $3, 'paper', 'sma-cross', $4, 'stopped', 'test')`,
    [deploymentId, `deployment-${deploymentId}`, account, JSON.stringify(spec)],
  );
});

afterAll(async () => {
  // Never leave a halt on for the tests that run after this file.
  await h?.db.query(`UPDATE trading_halts SET active = false WHERE (scope = 'global') OR scope_id IN ($1, $2)`, [account, deploymentId]).catch(() => undefined);
  await h?.close();
});

const post = (payload: unknown, headers: Record<string, string> = AUTH.admin) =>
  h.app.inject({ method: 'POST', url: '/v1/kill-switch', headers, payload: payload as Record<string, unknown> });

interface Halt {
  scope: string;
  id: string | null;
  active: boolean;
  reason: string;
  setBy: string;
  setAt: string;
}
const listHalts = async (headers: Record<string, string> = AUTH.viewer) => {
  const res = await h.app.inject({ method: 'GET', url: '/v1/kill-switch', headers });
  expect(res.statusCode).toBe(200);
  return res.json<{ halts: Halt[] }>().halts;
};

async function lastAudit(subject: string) {
  const { rows } = await h.db.query<{ actor: string; action: string; detail: Record<string, unknown> }>(
    'SELECT actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id DESC LIMIT 1',
    [subject],
  );
  return rows[0];
}

describe('POST /v1/kill-switch', () => {
  test('only admins may call it: trader, approver and viewer are 403, no key or an unknown key 401', async () => {
    const body = { scope: 'global', active: true, reason: 'not allowed' };
    for (const headers of [AUTH.trader, AUTH.approver, AUTH.viewer]) {
      const res = await post(body, headers);
      expect(res.statusCode).toBe(403);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('forbidden');
    }
    expect((await h.app.inject({ method: 'POST', url: '/v1/kill-switch', payload: body })).statusCode).toBe(401);
    expect((await post(body, { authorization: 'Bearer not-a-configured-key-000000000' })).statusCode).toBe(401);
    expect((await listHalts()).filter((x) => x.scope === 'global')).toEqual([]);
  });

  test('global: on (audited with the actor, visible, enforced by the database check), then off again', async () => {
    let res = await post({ scope: 'global', active: true, reason: 'market halt drill' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ scope: 'global', id: null, active: true });

    const halts = await listHalts();
    expect(halts).toContainEqual({ scope: 'global', id: null, active: true, reason: 'market halt drill', setBy: 'ada', setAt: expect.any(String) });
    expect(await activeHalts(h.db, 'any-account', randomUUID())).toEqual({ global: true, account: false, deployment: false, eod: false });
    expect(await lastAudit('global')).toEqual({
      actor: 'ada',
      action: 'kill-switch.on',
      detail: { scope: 'global', id: null, active: true, reason: 'market halt drill' },
    });
    // every role can see it
    for (const headers of [AUTH.trader, AUTH.approver, AUTH.admin]) expect((await listHalts(headers)).some((x) => x.scope === 'global')).toBe(true);

    res = await post({ scope: 'global', active: false, reason: 'drill over' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ scope: 'global', id: null, active: false });
    expect((await listHalts()).filter((x) => x.scope === 'global')).toEqual([]);
    expect((await activeHalts(h.db, 'any-account', randomUUID())).global).toBe(false);
    expect(await lastAudit('global')).toMatchObject({ actor: 'ada', action: 'kill-switch.off', detail: { active: false, reason: 'drill over' } });
  });

  test('account and deployment scopes (a deployment id in any case is stored as the runtime compares it)', async () => {
    let res = await post({ scope: 'account', id: account, active: true, reason: 'margin call' });
    expect(res.json()).toEqual({ scope: 'account', id: account, active: true });
    res = await post({ scope: 'deployment', id: deploymentId.toUpperCase(), active: true, reason: 'misbehaving' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ scope: 'deployment', id: deploymentId, active: true });

    expect(await activeHalts(h.db, account, deploymentId)).toEqual({ global: false, account: true, deployment: true, eod: false });
    const mine = (await listHalts()).filter((x) => x.id === account || x.id === deploymentId);
    expect(mine.map((x) => [x.scope, x.id, x.setBy])).toEqual([
      ['account', account, 'ada'],
      ['deployment', deploymentId, 'ada'],
    ]);
    expect(await lastAudit(`deployment:${deploymentId}`)).toMatchObject({ actor: 'ada', action: 'kill-switch.on', detail: { reason: 'misbehaving' } });

    await post({ scope: 'account', id: account, active: false, reason: 'resolved' });
    await post({ scope: 'deployment', id: deploymentId, active: false, reason: 'resolved' });
    expect(await activeHalts(h.db, account, deploymentId)).toEqual({ global: false, account: false, deployment: false, eod: false });
    expect((await listHalts()).filter((x) => x.id === account || x.id === deploymentId)).toEqual([]);
    expect(await lastAudit(`account:${account}`)).toMatchObject({ actor: 'ada', action: 'kill-switch.off' });
  });

  test('an unknown deployment is a 404 and writes nothing', async () => {
    const unknown = randomUUID();
    const res = await post({ scope: 'deployment', id: unknown, active: true, reason: 'typo' });
    expect(res.statusCode).toBe(404);
    expect(await lastAudit(`deployment:${unknown}`)).toBeUndefined();
  });

  test.each([
    ['no body', undefined, ''],
    ['scope missing', { active: true, reason: 'r' }, 'scope'],
    ['unknown scope', { scope: 'planet', active: true, reason: 'r' }, 'scope'],
    ['active missing', { scope: 'global', reason: 'r' }, 'active'],
    ['active not a boolean', { scope: 'global', active: 'yes', reason: 'r' }, 'active'],
    ['reason missing', { scope: 'global', active: true }, 'reason'],
    ['reason empty', { scope: 'global', active: true, reason: '   ' }, 'reason'],
    ['reason too long', { scope: 'global', active: true, reason: 'x'.repeat(501) }, 'reason'],
    ['account without id', { scope: 'account', active: true, reason: 'r' }, 'id'],
    ['deployment without id', { scope: 'deployment', active: true, reason: 'r' }, 'id'],
    ['deployment id not a uuid', { scope: 'deployment', id: 'abc', active: true, reason: 'r' }, 'id'],
    ['bad account id', { scope: 'account', id: 'a b', active: true, reason: 'r' }, 'id'],
    ['global with an id', { scope: 'global', id: 'x', active: true, reason: 'r' }, 'id'],
    ['unknown field', { scope: 'global', active: true, reason: 'r', force: true }, ''],
  ])('bad body (%s) is a 400 naming the field', async (_what, body, path) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const err = res.json<{ error: { code: string; issues?: Array<{ in: string; path: string }> } }>().error;
    expect(err.code).toBe('invalid_request');
    expect(err.issues?.map((i) => i.path) ?? ['']).toContain(path);
    expect((await listHalts()).filter((x) => x.scope === 'global')).toEqual([]);
  });
});

describe('GET /v1/kill-switch', () => {
  test('needs a key', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/v1/kill-switch' })).statusCode).toBe(401);
  });
});
