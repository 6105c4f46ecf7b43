/**
 * The OpenAPI document as client generators see it: fetched from a running API, linted with Redocly's
 * recommended rules (0 errors), turned into types with openapi-typescript, and a small openapi-fetch client
 * type-checked with tsc (a wrong call must fail to compile) and run against the same API. The tools run with
 * telemetry off and a preload that refuses (and records) any network access other than loopback.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { OPERATION_IDS } from '../../clients/api/operation-ids';
import { routeTableOf } from '../../clients/api/route-table';
import { TEST_KEYS } from '../helpers/stack';
import { startApi, type ApiHarness } from './harness';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
// under the repository (so the client resolves openapi-fetch from its node_modules), outside tsconfig's include
const DIR = path.join(ROOT, '.local', `openapi-client-${process.pid}`);
const NETWORK_LOG = path.join(DIR, 'network.log');

interface OpenApiDoc {
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, { operationId?: string; security?: unknown[] }>>;
}

let h: ApiHarness;
let baseUrl: string;
let doc: OpenApiDoc;

/** A tool run with telemetry and update checks off, no network (recorded in NETWORK_LOG), CI-style output. */
function tool(bin: string, args: string[], env: Record<string, string> = {}) {
  return run(path.join(BIN, bin), args, {
    cwd: DIR,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: DIR,
      CI: 'true',
      REDOCLY_TELEMETRY: 'off',
      REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
      NODE_OPTIONS: `--require ${path.join(ROOT, 'test', 'helpers', 'no-network.js')}`,
      NO_NETWORK_LOG: NETWORK_LOG,
      ...env,
    },
  });
}

const networkAttempts = () => {
  try {
    return readFileSync(NETWORK_LOG, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  h = await startApi();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
  const res = await fetch(`${baseUrl}/docs/json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as OpenApiDoc;
  writeFileSync(path.join(DIR, 'openapi.json'), JSON.stringify(doc, null, 2));
});

afterAll(async () => {
  await h?.close();
  rmSync(DIR, { recursive: true, force: true });
});

test('every documented operation has an operationId, unique, from the one table; every table entry is a route', () => {
  const ids: string[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.operationId) throw new Error(`${method.toUpperCase()} ${p} has no operationId`);
      ids.push(op.operationId);
    }
  }
  expect(ids.length).toBe(Object.keys(OPERATION_IDS).length);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(Object.values(OPERATION_IDS)).size).toBe(Object.keys(OPERATION_IDS).length);
  const documented = routeTableOf(h.app).routes.filter((r) => !r.hidden && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
  expect(documented.sort()).toEqual(Object.keys(OPERATION_IDS).sort());
  expect(ids).toEqual(expect.arrayContaining(['createDeployment', 'pauseDeployment', 'importBars', 'getBacktest', 'approveTrade']));
});

test('the no-network preload records and refuses a connection to a non-loopback host (control)', async () => {
  await tool('tsx', ['-e', "fetch('http://guard-probe.invalid/').catch(() => undefined)"]).catch(() => undefined);
  const attempts = networkAttempts();
  rmSync(NETWORK_LOG, { force: true });
  expect(attempts).toEqual([expect.stringContaining('guard-probe.invalid')]);
});

test('Redocly lint with the recommended rules: no errors (servers, nullable types, security on every operation)', async () => {
  const { stdout } = await tool('redocly', ['lint', '--extends=recommended', '--format=json', 'openapi.json']).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`redocly lint failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; severity: string; message: string }> };
  expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
  expect(report.totals.errors).toBe(0);
  expect(report.problems.filter((p) => p.ruleId === 'operation-operationId')).toEqual([]);
  expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
  expect(doc.paths['/health'].get.security).toEqual([{}, { bearer: [] }]);
  expect(networkAttempts()).toEqual([]);
}, 120_000);

describe('a typed client generated from the document', () => {
  beforeAll(async () => {
    await tool('openapi-typescript', ['openapi.json', '--output', 'api.d.ts']);
    writeFileSync(
      path.join(DIR, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', lib: ['ES2022', 'DOM'], module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], noEmit: true, skipLibCheck: true },
        files: ['client.ts'],
      }),
    );
  }, 120_000);

  const client = (call: string) => `import createClient from 'openapi-fetch';
import type { paths } from './api';

const api = createClient<paths>({ baseUrl: process.argv[2], headers: { authorization: \`Bearer \${process.argv[3]}\` } });

async function main(): Promise<void> {
  ${call}
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
`;

  const GOOD = `const { data, error, response } = await api.GET('/v1/backtests/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } });
  // typed: data is the job (its status an enum), error the one error shape with requestId
  const status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | undefined = data?.status;
  const requestId: string | undefined = error?.error.requestId;
  const list = await api.GET('/v1/backtests', { params: { query: { limit: 1 } } });
  const jobs: number | undefined = list.data?.jobs.length;
  console.log(JSON.stringify({ http: response.status, status, requestId, code: error?.error.code, jobs }));`;

  test('a call by path with typed params, answer and error type-checks, and runs against the API', async () => {
    writeFileSync(path.join(DIR, 'client.ts'), client(GOOD));
    await tool('tsc', ['-p', 'tsconfig.json']).catch((err: { stdout?: string }) => {
      throw new Error(`the generated client does not type-check:\n${err.stdout ?? ''}`);
    });
    const { stdout } = await tool('tsx', ['client.ts', baseUrl, TEST_KEYS.viewer]);
    const out = JSON.parse(stdout) as { http: number; code: string; requestId: string; jobs: number };
    expect(out).toMatchObject({ http: 404, code: 'not_found', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(typeof out.jobs).toBe('number');
    expect(networkAttempts()).toEqual([]);
  }, 120_000);

  test.each([
    ['a misspelt path parameter', `await api.GET('/v1/backtests/{id}', { params: { path: { jobId: 'x' } } });`],
    ['a route that does not exist', `await api.GET('/v1/backtest/{id}', { params: { path: { id: 'x' } } });`],
    ['a wrong field of the answer', `const { data } = await api.GET('/v1/backtests/{id}', { params: { path: { id: 'x' } } }); console.log(data?.statuss);`],
  ])('%s does not compile (the types are real, not any)', async (_name, call) => {
    writeFileSync(path.join(DIR, 'client.ts'), client(call));
    const failed = await tool('tsc', ['-p', 'tsconfig.json']).then(
      () => undefined,
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    expect(failed).toMatch(/client\.ts\(\d+,\d+\): error TS\d+/);
  }, 120_000);
});
