import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AUTH } from '../api/harness';
import { approvalById, eventually, ledgerRows, pendingApproval, startRuntimeHarness, type ApprovalView, type RuntimeHarness } from '../api/runtime-harness';
import { uniqueSymbol } from '../helpers/db';
import { TEST_KEYS } from '../helpers/stack';
import { CLI_ENV, cliArgs } from '../helpers/cli';

/**
 * `approvals list | show | approve | reject`, each run as its own CLI process against a listening API with a real
 * IO worker, Postgres, Redis, Temporal and the paper broker: two deployments whose policy always asks open real
 * requests; decisions are read back from the API and the ledger. Refusals end with the API's message and exit 1
 * (403, 404, 409), bad input with exit 2.
 */
const ROOT = path.resolve(__dirname, '..', '..');

let rt: RuntimeHarness;
let apiUrl: string;

beforeAll(async () => {
  rt = await startRuntimeHarness('cliap');
  await rt.h.app.listen({ host: '127.0.0.1', port: 0 });
  apiUrl = `http://127.0.0.1:${(rt.h.app.server.address() as AddressInfo).port}`;
}, 90_000);

afterAll(async () => {
  await rt?.close();
});

// an up-cross at bar 5 (buy ~102), then a slow rise: one entry, then the position is held (a single order)
const RISE = [100, 99.9, 99.8, 99.7, 99.6, 102, ...Array.from({ length: 300 }, (_, i) => 102.1 + i * 0.001)];

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], key: string): Promise<CliRun> {
  const child = spawn(process.execPath, cliArgs(args), {
    cwd: ROOT,
    env: { ...CLI_ENV, PATH: process.env.PATH, HOME: process.env.HOME, API_URL: apiUrl, API_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A command that must succeed: its stdout (a failure shows stderr). */
async function ok(args: string[], key: string): Promise<string> {
  const run = await cli(args, key);
  expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
  return run.stdout;
}

/** A command that must fail with `code` and a one-line message matching `message`, without a stack trace. */
async function fails(args: string[], code: 1 | 2, key: string, message: RegExp): Promise<void> {
  const run = await cli(args, key);
  expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code, stdout: '' });
  expect({ args, stderr: run.stderr }).toEqual({ args, stderr: expect.stringMatching(message) });
  expect(run.stderr).not.toMatch(/\n\s+at /);
}


const approval = (id: string) => approvalById(rt.h, id);

const pendingFor = (deploymentId: string) => pendingApproval(rt.h, deploymentId);

// Two requests, opened once for the whole file: `mine` by tom's deployment, `ada` by the admin ada's.
const symbol = uniqueSymbol('CAP');
const adaSymbol = uniqueSymbol('CAA');
let mine: { deploymentId: string; approval: ApprovalView };
let ada: { deploymentId: string; approval: ApprovalView };

test('list and show a pending request: the trade, why the cycle asked, the time left and the Temporal link', async () => {
  await Promise.all([rt.storePath(symbol, RISE), rt.storePath(adaSymbol, RISE)]);
  const policy = { approvalPolicy: { mode: 'always' }, riskLimits: { maxExposure: 1e6 } };
  const [dMine, dAda] = await Promise.all([rt.createDeployment(symbol, policy), rt.createDeployment(adaSymbol, policy, AUTH.admin)]);
  const [aMine, aAda] = await Promise.all([pendingFor(dMine.id), pendingFor(dAda.id)]);
  mine = { deploymentId: dMine.id, approval: aMine };
  ada = { deploymentId: dAda.id, approval: aAda };

  const [listJson, listText, show, showJson] = await Promise.all([
    ok(['approvals', 'list', '--status', 'pending', '--deployment', dMine.id, '--json'], TEST_KEYS.viewer),
    ok(['approvals', 'list', '--deployment', dMine.id], TEST_KEYS.viewer),
    ok(['approvals', 'show', aMine.id], TEST_KEYS.viewer),
  ]).then(async (r) => [...r, await ok(['approvals', 'show', aMine.id, '--json'], TEST_KEYS.viewer)]);

  const listed = JSON.parse(listJson) as { approvals: ApprovalView[] };
  expect(listed.approvals.map((a) => a.id)).toEqual([aMine.id]);
  expect(listed.approvals[0]).toMatchObject({ status: 'pending', trade: { symbol, side: 'buy', qty: 1 }, reason: { rule: 'policy always' }, requestedBy: 'tom' });

  const lines = listText.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^id\s+status\s+trade\s+notional\s+rule\s+approvals\s+left\s+requestedBy\s+deployment\s+created$/);
  expect(lines).toHaveLength(3);
  expect(lines[2]).toMatch(new RegExp(`^${aMine.id}\\s+pending\\s+buy 1 ${symbol} @ [\\d.]+\\s+[\\d.]+\\s+policy always\\s+0/1\\s+\\d+m \\d{2}s\\s+tom\\s+${dMine.id}\\s`));

  expect(show).toMatch(new RegExp(`^approval\\s+${aMine.id}$`, 'm'));
  expect(show).toMatch(/^status\s+pending$/m);
  expect(show).toMatch(new RegExp(`^trade\\s+buy 1 ${symbol} @ [\\d.]+ \\(notional [\\d.]+\\)$`, 'm'));
  expect(show).toMatch(/^rule\s+policy always$/m);
  expect(show).toMatch(/^signal\s+1$/m);
  expect(show).toMatch(/^risk\s+allow, qty 1$/m);
  expect(show).toMatch(/^approvals\s+0 of 1$/m);
  expect(show).toMatch(/^requested\s+tom at \d{4}-/m);
  expect(show).toMatch(/^time left\s+[1-5]m \d{2}s$/m);
  expect(show).toContain(`temporal      ${aMine.links.temporalUi}\n`);
  expect(show).toMatch(/\ndecisions\n\(none\)\n$/);
  expect(JSON.parse(showJson)).toMatchObject({ id: aMine.id, status: 'pending', links: { temporalUi: aMine.links.temporalUi } });
}, 150_000);

test('refusals: wrong role and self-approval 403, unknown id 404, bad input exit 2; nothing is recorded', async () => {
  await Promise.all([
    fails(['approvals', 'approve', mine.approval.id], 1, TEST_KEYS.viewer, /^error: role viewer may not call this route \(allowed: approver, admin\) \(HTTP 403 forbidden\)\n$/),
    fails(['approvals', 'reject', mine.approval.id, '--reason', 'no'], 1, TEST_KEYS.trader, /^error: role trader may not call this route .*\(HTTP 403 forbidden\)\n$/),
    fails(['approvals', 'approve', ada.approval.id], 1, TEST_KEYS.admin, /^error: ada requested this trade \(deployment creator\) and may not decide on it \(HTTP 403 forbidden\)\n$/),
  ]);
  const unknown = randomUUID();
  await Promise.all([
    fails(['approvals', 'approve', unknown], 1, TEST_KEYS.approver, new RegExp(`^error: no approval ${unknown} \\(HTTP 404 not_found\\)\\n$`)),
    fails(['approvals', 'show', unknown], 1, TEST_KEYS.viewer, /\(HTTP 404 not_found\)\n$/),
    fails(['approvals', 'approve', 'not-an-id'], 2, TEST_KEYS.approver, /^error: invalid path parameters \(HTTP 400 invalid_request\)\n {2}path\.id: must be a UUID\n$/),
  ]);
  await Promise.all([
    fails(['approvals', 'list', '--status', 'waiting'], 2, TEST_KEYS.viewer, /argument 'waiting' is invalid\. Allowed choices are pending, approved, rejected, expired, executed, failed/),
    fails(['approvals', 'list', '--deployment', 'nope'], 2, TEST_KEYS.viewer, /HTTP 400 invalid_request\)\n {2}query\.deploymentId: must be a UUID\n$/),
    fails(['approvals', 'approve', mine.approval.id, '--reason', ''], 2, TEST_KEYS.approver, /\n {2}reason: reason must not be empty\n$/),
  ]);
  for (const a of [mine.approval, ada.approval]) expect(await approval(a.id)).toMatchObject({ status: 'pending', approvals: 0, decisions: [] });
}, 120_000);

test('approve and reject: each is recorded once, a repeated or late decision is a 409, and the approved trade executes', async () => {
  const approved = await ok(['approvals', 'approve', mine.approval.id, '--reason', 'ok from the cli'], TEST_KEYS.approver);
  expect(approved).toMatch(new RegExp(`^approval ${mine.approval.id}: approve recorded; status approved \\(1 of 1 approvals\\); the workflow re-checks`));
  const rejected = JSON.parse(await ok(['approvals', 'reject', ada.approval.id, '--reason', 'not today', '--json'], TEST_KEYS.approver));
  expect(rejected).toEqual({ id: ada.approval.id, decision: 'reject', status: 'rejected', approvals: 0, requiredApprovals: 1, signalled: true });

  await Promise.all([
    fails(['approvals', 'approve', mine.approval.id], 1, TEST_KEYS.approver, /^error: approval \S+ is already (approved|executed) \(HTTP 409 conflict\)\n$/),
    fails(['approvals', 'reject', mine.approval.id], 1, TEST_KEYS.admin, /^error: approval \S+ is already (approved|executed) \(HTTP 409 conflict\)\n$/),
    fails(['approvals', 'approve', ada.approval.id], 1, TEST_KEYS.approver, new RegExp(`^error: approval ${ada.approval.id} is already rejected \\(HTTP 409 conflict\\)\\n$`)),
  ]);

  const done = await eventually('executed', () => approval(mine.approval.id), (x) => x.status === 'executed' || x.status === 'failed');
  expect(done).toMatchObject({ status: 'executed', decisions: [expect.objectContaining({ approver: 'alice', decision: 'approve', reason: 'ok from the cli' })] });
  expect((await ledgerRows(rt.pool, mine.deploymentId)).map((o) => o.client_order_id)).toEqual([done.clientOrderId]);
  expect(await ledgerRows(rt.pool, ada.deploymentId)).toHaveLength(0);

  const [show, rejectedList] = await Promise.all([
    ok(['approvals', 'show', mine.approval.id], TEST_KEYS.viewer),
    ok(['approvals', 'list', '--status', 'rejected', '--deployment', ada.deploymentId, '--json'], TEST_KEYS.viewer),
  ]);
  expect(show).toMatch(/^status\s+executed$/m);
  expect(show).toMatch(/^time left\s+-$/m);
  expect(show).toContain(`client order  ${done.clientOrderId}\n`);
  expect(show).toMatch(/\ndecisions\nat\s+approver\s+decision\s+reason\n[- ]+\n\S+\s+alice\s+approve\s+ok from the cli\n$/);
  expect(JSON.parse(rejectedList).approvals).toEqual([expect.objectContaining({ id: ada.approval.id, status: 'rejected', outcome: 'rejected by alice: not today' })]);
  await Promise.all([rt.stop(mine.deploymentId), rt.stop(ada.deploymentId)]);
}, 150_000);
