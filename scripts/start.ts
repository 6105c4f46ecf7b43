import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { migrate } from '../db/migrate';
import { startPaperBroker, type PaperBrokerProcess } from '../brokers/paper/start';
import { buildBundles } from '../harness/bundles';
import { PRODUCT_SEARCH_ATTRIBUTES, startPostgres, startRedis, startTemporalDevServer, type Service } from '../harness/stack';

/**
 * `npm start`: the local stack (Postgres, Redis, Temporal dev server with UI, unless their URLs are given)
 * plus the API and both workers, on embedded defaults. Ctrl-C stops everything.
 */
const ROOT = path.resolve(__dirname, '..');
// Overridable so a test can run a second instance beside a developer's.
const DIR = process.env.DURABLE_TRADER_LOCAL_DIR ?? path.join(ROOT, '.local', 'dev');
const TEMPORAL_PORT = Number(process.env.TEMPORAL_PORT ?? 7233);
const TEMPORAL_UI_PORT = Number(process.env.TEMPORAL_UI_PORT ?? 8233);

const services: Array<Pick<Service, 'stop'>> = [];
const children: ChildProcess[] = [];
let stopping = false;

async function main(): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };

  if (!env.DATABASE_URL) {
    step('starting Postgres');
    const pg = await startPostgres({ dataDir: path.join(DIR, 'pg'), logFile: path.join(DIR, 'pg.log') });
    services.push(pg);
    env.DATABASE_URL = pg.url;
  }
  if (!env.REDIS_URL) {
    step('starting Redis');
    const redis = await startRedis({ dataDir: path.join(DIR, 'redis'), logFile: path.join(DIR, 'redis.log') });
    services.push(redis);
    env.REDIS_URL = redis.url;
  }
  if (!env.TEMPORAL_ADDRESS) {
    step(`starting the Temporal dev server (history kept in ${path.relative(ROOT, path.join(DIR, 'temporal', 'history.db'))})`);
    mkdirSync(path.join(DIR, 'temporal'), { recursive: true });
    const temporal = await startTemporalDevServer({
      dbFile: path.join(DIR, 'temporal', 'history.db'),
      port: TEMPORAL_PORT,
      uiPort: TEMPORAL_UI_PORT,
      logFile: path.join(DIR, 'temporal.log'),
      searchAttributes: PRODUCT_SEARCH_ATTRIBUTES,
    });
    services.push(temporal);
    env.TEMPORAL_ADDRESS = temporal.address;
    env.TEMPORAL_UI_URL = temporal.uiUrl ?? `http://127.0.0.1:${TEMPORAL_UI_PORT}`;
  }
  let keys: string[] = [];
  if (!env.API_KEYS) {
    keys = localApiKeys();
    env.API_KEYS = keys.join(',');
  }
  env.PORT ??= '3000';

  step('migrating the database');
  await migrate(env.DATABASE_URL);
  if (!env.PAPER_BROKER_URL) {
    step('starting the paper broker (Alpaca-compatible, state in Postgres)');
    const paper: PaperBrokerProcess = await startPaperBroker({ databaseUrl: env.DATABASE_URL, port: Number(env.PAPER_BROKER_PORT ?? 8789) });
    services.push(paper);
    env.PAPER_BROKER_URL = paper.url;
  }
  step('building workflow bundles');
  await buildBundles(path.join(DIR, 'bundles'));
  env.WORKFLOW_BUNDLE_DIR = path.join(DIR, 'bundles');

  // One node process each, with tsx as its loader: the tsx command relays SIGTERM to a child and SIGKILLs it when the
  // child has not acknowledged within 2 x 30 ms (a busy machine), which skipped the graceful shutdown (exit 143).
  // Each process serves Prometheus metrics on its own port: METRICS_BASE_PORT (9464) and the next two.
  const metricsBase = Number(process.env.METRICS_BASE_PORT ?? 9464);
  const processes = [['api', 'clients/api/server.ts'], ['worker-cpu', 'workers/cpu-worker.ts'], ['worker-io', 'workers/io-worker.ts']] as const;
  for (const [i, [name, entry]] of processes.entries()) {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...env, METRICS_PORT: String(metricsBase + i) }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d: Buffer) => prefix(name, d));
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`[start] ${name} exited (${signal ?? code}); stopping everything`);
        void shutdown(1);
      }
    });
  }

  const api = `http://127.0.0.1:${env.PORT}`;
  await waitForApi(api);
  console.log(`
  API            ${api}
  API docs       ${api}/docs
  Temporal UI    ${env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233'}
  Temporal       ${env.TEMPORAL_ADDRESS}
  Paper broker   ${env.PAPER_BROKER_URL}
  Metrics        ${processes.map(([name], i) => `${name} http://127.0.0.1:${metricsBase + i}/metrics`).join(', ')}
${keys.length ? `  API keys (local only; kept in ${path.relative(ROOT, path.join(DIR, "api-keys"))}):\n${keys.map((k) => `    ${k.split(':')[1]!.padEnd(9)} ${k.split(':')[0]}`).join('\n')}\n` : ''}
  Try: API_KEY=<trader key> npm run cli -- import ../shared/data/orcl-1995-2014.txt --symbol ORCL --timeframe 1d
       API_KEY=<trader key> npm run cli -- backtest --symbol ORCL --timeframe 1d --strategy sma-cross
  Ctrl-C stops everything.
`);
}

function step(msg: string) {
  console.log(`==> ${msg}`);
}

function prefix(name: string, data: Buffer) {
  for (const line of data.toString().split('\n')) if (line.trim()) process.stdout.write(`[${name}] ${line}\n`);
}

/** One key per role, generated once and kept in .local/dev so they survive a restart. */
function localApiKeys(): string[] {
  const file = path.join(DIR, 'api-keys');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim().split('\n');
  const keys = (['viewer', 'trader', 'approver', 'admin'] as const).map((role) => `${role}-${randomBytes(12).toString('hex')}:${role}:local-${role}`);
  writeFileSync(file, `${keys.join('\n')}\n`, { mode: 0o600 });
  return keys;
}

async function waitForApi(url: string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200 || res.status === 503) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the API did not answer on ${url}/health within 60 s (see its log lines above)`);
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  console.log('\n==> stopping');
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
  await Promise.allSettled(services.map((s) => s.stop()));
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch(async (err: unknown) => {
  console.error(`npm start failed: ${(err as Error).message}`);
  await shutdown(1);
});
