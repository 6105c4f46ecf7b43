/**
 * harness/stack (the local stack) against the real binaries (run `npm run provision` first):
 * each server starts in a temp dir, answers, can be crashed/restarted where that matters for fault
 * tests, and leaves no process behind after stop() — nor after its parent dies without calling stop().
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import {
  freePort,
  isAlive,
  startPostgres,
  startRedis,
  startTemporalDevServer,
  timeSkippingServerPath,
  type ManagedService,
  type Service,
} from '../../harness/stack';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
let dir: string;
const started: Service[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-stack-test-'));
  fs.chmodSync(dir, 0o755); // mkdtemp makes it 0700; the postgres user must be able to enter it
});

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** live (non-zombie) processes whose command line contains `needle` */
function processesMatching(needle: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter((pid) => isAlive(pid));
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

async function selectOne(url: string): Promise<number> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    return (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one;
  } finally {
    await c.end();
  }
}

test('postgres: SELECT 1 as app, data survives restart and a crash, stop() leaves nothing running', async () => {
  const pg: ManagedService = await startPostgres({ dataDir: path.join(dir, 'pg'), logFile: path.join(dir, 'pg.log') });
  started.push(pg);
  expect(pg.url).toBe(`postgres://app:app@127.0.0.1:${pg.port}/app`);
  expect(await selectOne(pg.url)).toBe(1);

  const c = new Client({ connectionString: pg.url });
  await c.connect();
  await c.query('CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
  await c.end();

  await pg.kill('SIGKILL'); // crash: the next start runs crash recovery on the same data dir and port
  expect(pg.running()).toBe(false);
  await pg.start();
  const c2 = new Client({ connectionString: pg.url });
  await c2.connect();
  expect((await c2.query('SELECT v FROM kept')).rows).toEqual([{ v: 42 }]);
  await c2.end();

  const pid = pg.pid;
  await pg.stop();
  await pg.stop(); // idempotent
  expect(isAlive(pid)).toBe(false);
  expect(processesMatching(path.join(dir, 'pg'))).toEqual([]);

  // a second start on the same (initialised) dir reuses it and its port
  const again = await startPostgres({ dataDir: path.join(dir, 'pg'), logFile: path.join(dir, 'pg.log') });
  started.push(again);
  expect(again.port).toBe(pg.port);
  expect(await selectOne(again.url)).toBe(1);
  await again.stop();
});

test('redis: PING, data survives restart(), stop() leaves nothing running', async () => {
  const redis = await startRedis({ dataDir: path.join(dir, 'redis'), logFile: path.join(dir, 'redis.log') });
  started.push(redis);
  expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  expect(await client.ping()).toBe('PONG');
  await client.set('kept', 'yes');
  client.disconnect();

  await redis.restart();
  const client2 = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client2.connect();
  expect(await client2.get('kept')).toBe('yes');
  client2.disconnect();

  const pid = redis.pid;
  await redis.stop();
  await redis.stop();
  expect(isAlive(pid)).toBe(false);
  expect(fs.existsSync(path.join(dir, 'redis', 'redis.pid'))).toBe(false);
});

test('temporal dev server: answers getSystemInfo, has the search attributes, history file, UI; stop() kills it', async () => {
  const uiPort = await freePort();
  const temporal = await startTemporalDevServer({
    dbFile: path.join(dir, 'temporal', 'history.db'),
    uiPort,
    logFile: path.join(dir, 'temporal.log'),
    searchAttributes: { TradingSymbol: 'Keyword', AttemptCount: 'Int' },
  });
  started.push(temporal);
  expect(temporal.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
  const connection = await Connection.connect({ address: temporal.address });
  try {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.capabilities?.signalAndQueryHeader).toBe(true);
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(attrs.customAttributes ?? {})).toEqual(expect.arrayContaining(['TradingSymbol', 'AttemptCount']));
  } finally {
    await connection.close();
  }
  expect((await fetch(temporal.uiUrl!)).status).toBe(200);
  expect(fs.existsSync(path.join(dir, 'temporal', 'history.db'))).toBe(true);

  const pid = temporal.pid;
  await temporal.stop();
  await temporal.stop();
  expect(isAlive(pid)).toBe(false);
  expect(processesMatching(path.join(dir, 'temporal'))).toEqual([]);
});

test('servers stop by themselves when the process that started them dies without calling stop()', async () => {
  const script = `
    const { startPostgres, startRedis } = require(${JSON.stringify(path.join(ROOT, 'harness', 'stack', 'index.ts'))});
    Promise.all([startRedis({ dataDir: ${JSON.stringify(path.join(dir, 'orphan-redis'))} }), startPostgres({ dataDir: ${JSON.stringify(path.join(dir, 'orphan-pg'))} })])
      .then(([r, p]) => { console.log('PIDS=' + r.pid + ',' + p.pid); setInterval(() => {}, 1000); });
  `;
  // node itself with tsx's hooks (the tsx CLI would put a wrapper process in between)
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const pids = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PIDS=(\d+),(\d+)/.exec(out);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    child.once('exit', (code) => reject(new Error(`helper exited with ${code}: ${out}`)));
  });
  expect(pids.every((p) => isAlive(p))).toBe(true);
  child.kill('SIGKILL');
  child.stdout!.destroy();
  expect(await waitUntil(() => pids.every((p) => !isAlive(p)), 15_000)).toBe(true);
});

test('time-skipping test server (Java, via the run.sh wrapper) starts, skips time and is gone after teardown', async () => {
  const t0 = Date.now();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
  const startMs = Date.now() - t0;
  const port = env.address.split(':').at(-1)!;
  try {
    expect(env.supportsTimeSkipping).toBe(true);
    const before = Date.now();
    await env.sleep('2 hours'); // skipped, not waited
    expect(Date.now() - before).toBeLessThan(10_000);
    expect(processesMatching(`io.temporal.testserver.TestServer ${port}`)).toHaveLength(1);
  } finally {
    await env.teardown();
  }
  expect(await waitUntil(() => processesMatching(`io.temporal.testserver.TestServer ${port}`).length === 0, 10_000)).toBe(true);
  expect(startMs).toBeLessThan(5_000);
});

test('no watchdog of the servers above is left once everything is stopped', async () => {
  const pids = started.map((s) => s.pid);
  await Promise.allSettled(started.map((s) => s.stop()));
  // (jest's global setup may run watchdogs of its own servers in this same process: only look at ours,
  // which name either our temp dir or one of our server pids)
  const ours = () =>
    processesMatching(`while kill -0 ${process.pid} `).filter((pid) => {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes(dir) || pids.some((p) => cmd.includes(`-${p} `));
    });
  expect(await waitUntil(() => ours().length === 0, 5_000)).toBe(true);
});
