import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowClient } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { createIoActivities } from '../activities/io';
import { paperBrokerPort } from '../brokers';
import { PaperBrokerAdmin } from '../brokers/paper/admin-client';
import { freePort, startPaperBroker } from '../brokers/paper/start';
import { importBarColumns } from '../db/bar-import';
import { allocateBars, appendBar } from '../domain/bars';
import { currentOrNextSession, nextSessionOpen, sessionBarCloses } from '../domain/calendar';
import { parseDeploymentSpec, type DeploymentSpec, type DeploymentSpecInput } from '../domain/deployment/spec';
import { buildBundles } from '../harness/bundles';
import { ordersElsewhere } from '../harness/fixtures/brokers';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack, timeSkippingServerPath } from '../harness/stack';
import { ensureSearchAttributes } from '../platform/temporal';
import { recordCommand, sendCommandSignal, sendCommandUpdate } from '../services/deployment-command-records';
import { issueDeploymentCommand } from '../services/deployment-commands';
import { createDeployment } from '../services/deployments';
import { setKillSwitch } from '../services/kill-switch';
import { deploymentCommandSignal, deploymentStateQuery } from '../workflows/deployment/messages';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the deployment replay fixtures (test/replay/histories/deployment--<scenario>.json) with the real IO
 * activities against private Postgres, Redis and paper broker: one per cycle branch (trade, stale data, risk reject,
 * kill switch, continue-as-new, intrabar exits, a partial fill's remainder cancelled and replaced, a scanner's day, a
 * malformed spec refused) and one of forged and recorded commands, in the time-skipping environment; and a stop
 * while an order is in flight, on a private dev server (it needs real time: the order retries against a broker port
 * where nothing listens). `npx tsx scripts/record-deployment-histories.ts`
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const MINUTE = 60_000;

function zigzag(closes: number[]) {
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const price = 100 + 5 * Math.sin(i / 3);
    const open = i === 0 ? price : bars.close[i - 1];
    appendBar(bars, { ts: close - 300_000, open, high: Math.max(open, price) + 0.1, low: Math.min(open, price) - 0.1, close: price, volume: 1000 });
  });
  return bars;
}

/** Forged, malformed and unknown messages, then recorded commands (an update, signals): what the inbox does with each. */
async function sendCommands(pool: Pool, workflows: WorkflowClient, deploymentId: string): Promise<void> {
  const handle = workflows.getHandle(`deployment-${deploymentId}`);
  await handle.signal(deploymentCommandSignal, { commandId: randomUUID() }); // forged
  await handle.signal(deploymentCommandSignal, 'garbage' as never); // malformed
  await handle.signal('updateDeploymentParams', { messageId: randomUUID(), params: { fast: -5, slow: 0 }, version: 99 }); // an old name
  const pause = await recordCommand(pool, { deploymentId, kind: 'pause', by: 'recorder', reason: 'recording' });
  await sendCommandUpdate(workflows, handle.workflowId, pause!.command.id);
  await handle.signal(deploymentCommandSignal, { commandId: pause!.command.id }); // a replayed real id
  const params = await recordCommand(pool, { deploymentId, kind: 'params', by: 'recorder', params: { fast: 3, slow: 6 } });
  await sendCommandSignal(workflows, handle.workflowId, params!.command.id);
  const resume = await recordCommand(pool, { deploymentId, kind: 'resume', by: 'recorder' });
  await sendCommandSignal(workflows, handle.workflowId, resume!.command.id);
  for (let i = 0; i < 100 && (await handle.query(deploymentStateQuery)).paramsVersion !== 2; i++) await new Promise((r) => setTimeout(r, 100));
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record', temporal: true, redis: true });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const redis = new Redis(stack.REDIS_URL);
  // A fresh time-skipping server per scenario: waiting on a result can move its clock far ahead.
  const newEnv = () => TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } } });
  let env = await newEnv();
  const account = 'recorder';
  const paper = await startPaperBroker({ databaseUrl: stack.DATABASE_URL, account, initialCash: 1e7 });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    const now = await env.currentTimeMs();
    const day = currentOrNextSession('XNYS', nextSessionOpen('XNYS', now));
    let previous = day;
    for (let k = 1; previous.close > day.open; k++) previous = currentOrNextSession('XNYS', day.open - k * 86_400_000);
    const closes = [...sessionBarCloses(previous, '5m'), ...sessionBarCloses(day, '5m')];
    const db = await pool.connect();
    await importBarColumns(db, 'REC', '5m', zigzag(closes));
    // A series that stops an hour into the day: later cycles see stale data.
    await importBarColumns(db, 'STALE', '5m', zigzag(closes.filter((c) => c <= day.open + 3_600_000)));
    db.release();

    const activities = createIoActivities({ db: pool, redis, brokers: { paper: paperBrokerPort(paper.url) }, paperPrices: new PaperBrokerAdmin(paper.url) });
    // These histories are of the runtime that evaluates its own closes (batch ones are woken only to act).
    const base: DeploymentSpecInput = { strategy: 'sma-cross', params: { fast: 2, slow: 5 }, symbols: ['REC'], timeframe: '5m', accountId: account, broker: 'paper', calendar: 'XNYS', settleDelayMs: 1_000, evaluation: 'deployment' };
    const admin = new PaperBrokerAdmin(paper.url);
    const exits = { ...base, exits: { takeProfitPct: 0.02, stopLossPct: 0.01, trailingStopPct: 0.015 }, riskLimits: { cooldownBarsAfterStopLoss: 0 } };
    const scenarios: Array<{ name: string; spec: DeploymentSpecInput; untilMs: number; cyclesPerRun?: number; halt?: boolean; firstRun?: boolean; commands?: boolean; slices?: number }> = [
      { name: 'trade', spec: base, untilMs: day.open + 90 * MINUTE },
      { name: 'stale-data', spec: { ...base, symbols: ['STALE'] }, untilMs: day.open + 100 * MINUTE },
      { name: 'risk-reject', spec: { ...base, riskLimits: { minOrderQty: 5 } }, untilMs: day.open + 90 * MINUTE },
      { name: 'kill-switch', spec: base, untilMs: day.open + 90 * MINUTE, halt: true },
      { name: 'continue-as-new', spec: base, untilMs: day.open + 60 * MINUTE, cyclesPerRun: 4, firstRun: true },
      { name: 'forged-command', spec: base, untilMs: day.open + 30 * MINUTE, commands: true },
      { name: 'exits', spec: exits, untilMs: day.open + 150 * MINUTE },
      { name: 'partial-fill', spec: { ...base, quantity: 10, partialFills: 'cancel-and-replace' }, untilMs: day.open + 90 * MINUTE, slices: 3 },
      // the scanner's whole day: screens, an entry, exits, the end-of-day close and its phases (upserted search attributes)
      { name: 'scanner', spec: { ...exits, symbols: ['REC', 'STALE'], eod: { marginMinutes: 5 }, scanner: { maxPositions: 1, minVolume: 100 } }, untilMs: day.close + 10 * MINUTE },
    ];
    mkdirSync(OUT, { recursive: true });
    for (const s of scenarios) {
      await env.teardown();
      env = await newEnv();
      const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') }, activities });
      await worker.runUntil(async () => {
        const services = { db: pool, temporal: env.client };
        await admin.configure({ partialFillSlices: s.slices ?? 1 });
        await ensureSearchAttributes(env.connection, 'default');
        const { id: deploymentId, handle } = await createDeployment(services, { spec: parseDeploymentSpec(s.spec), by: 'recorder', cyclesPerRun: s.cyclesPerRun });
        // Before its first cycle: time-skipping time moves only while something waits on it.
        if (s.halt) await setKillSwitch(pool, { scope: 'deployment', id: deploymentId, active: true, reason: 'recording', by: 'recorder' });
        const firstRunId = handle.firstExecutionRunId;
        console.log(`${s.name}: started at ${new Date(await env.currentTimeMs()).toISOString()}`);
        const t = await env.currentTimeMs();
        if (s.untilMs > t) await env.sleep(s.untilMs - t);
        await handle.query(deploymentStateQuery);
        if (s.commands) {
          await sendCommands(pool, env.client.workflow, deploymentId);
          await env.sleep(30 * MINUTE); // cycles with the new params
        }
        await issueDeploymentCommand(services, { deploymentId, kind: 'stop', by: 'recorder' });
        await handle.result();
        const history = s.firstRun ? await env.client.workflow.getHandle(handle.workflowId, firstRunId).fetchHistory() : await handle.fetchHistory();
        write(`deployment--${s.name}.json`, historyToJSON(history), history.events?.length);
      });
    }
    await admin.configure({ partialFillSlices: 1 });
    await env.teardown();
    env = await newEnv();
    await recordInvalidSpec(env, pool, activities, bundleDir, parseDeploymentSpec(base));
    await recordStopInFlight(stack, pool, redis, paper.url, bundleDir);
  } finally {
    await paper.stop();
    await env.teardown();
    redis.disconnect();
    await pool.end();
    await stack.stop();
  }
}

function write(name: string, json: string, events: number | undefined): void {
  const file = path.join(OUT, name);
  writeFileSync(file, json);
  console.log(`recorded ${path.relative(ROOT, file)} (${events} events)`);
}

/** A deployment recorded with a malformed spec (a negative stop, as a hand-edited row would hold): its runtime refuses, with one audit row. */
async function recordInvalidSpec(env: TestWorkflowEnvironment, pool: Pool, activities: ReturnType<typeof createIoActivities>, bundleDir: string, spec: DeploymentSpec): Promise<void> {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') }, activities });
  await worker.runUntil(async () => {
    await ensureSearchAttributes(env.connection, 'default');
    const bad = { ...spec, exits: { stopLossPct: -0.02, intrabarPolicy: 'direction' } } as DeploymentSpec;
    const { handle } = await createDeployment({ db: pool, temporal: env.client }, { spec: bad, by: 'recorder' });
    console.log('invalid-spec:', JSON.stringify(await handle.result()));
    const history = await handle.fetchHistory();
    write('deployment--invalid-spec.json', historyToJSON(history), history.events?.length);
  });
}

/**
 * A stop while an order is in flight, on the dev server in real time: 1-minute bars replayed at 60x, an up-cross
 * that buys, and a broker whose orders go to a port where nothing listens (its reads go to the paper broker). The
 * order retries; the stop (an update) cancels it, resolveOrder records it CANCELED, and the runtime stops.
 */
async function recordStopInFlight(stack: { TEMPORAL_ADDRESS: string }, pool: Pool, redis: Redis, paperUrl: string, bundleDir: string): Promise<void> {
  const from = Date.UTC(2024, 0, 8, 0, 0);
  const warm = Array.from({ length: 60 }, (_, i) => 106 - (6 * i) / 59);
  const closes = [...warm, 100, 99.9, 99.8, 99.7, 99.6, 102, 103, ...Array.from({ length: 100 }, (_, i) => 103 + i * 0.01)];
  const bars = allocateBars(closes.length);
  closes.forEach((close, i) => {
    const open = i === 0 ? close : closes[i - 1]!;
    appendBar(bars, { ts: from + (i - warm.length) * MINUTE, open, high: Math.max(open, close), low: Math.min(open, close), close, volume: 1000 });
  });
  const db = await pool.connect();
  await importBarColumns(db, 'INFL', '1m', bars);
  db.release();

  const reads = paperBrokerPort(paperUrl);
  const dead = paperBrokerPort(`http://127.0.0.1:${await freePort()}`);
  const unreachable = ordersElsewhere(reads, dead, 'alpaca');
  const activities = createIoActivities({ db: pool, redis, brokers: { paper: reads, alpaca: unreachable }, paperPrices: new PaperBrokerAdmin(paperUrl) });
  const connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  const native = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  const client = new Client({ connection });
  await ensureSearchAttributes(connection, 'default');
  const worker = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.io, workflowBundle: { codePath: path.join(bundleDir, 'io.js') }, activities });
  try {
    await worker.runUntil(async () => {
      const spec = parseDeploymentSpec({ strategy: 'sma-cross', params: { fast: 2, slow: 4 }, symbols: ['INFL'], timeframe: '1m', accountId: 'recorder', broker: 'alpaca', calendar: '24x7', settleDelayMs: 0, staleAfterBars: 5, evaluation: 'deployment' });
      const replay = { from: new Date(from - 12 * MINUTE).toISOString(), speed: 60 };
      const { id: deploymentId, handle } = await createDeployment({ db: pool, temporal: client }, { spec, by: 'recorder', replay });
      for (let i = 0; i < 600 && (await handle.query(deploymentStateQuery)).inflightOrder === null; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 2_000)); // a few attempts
      const stop = await recordCommand(pool, { deploymentId, kind: 'stop', by: 'recorder', reason: 'broker down' });
      console.log('stop-in-flight:', JSON.stringify(await sendCommandUpdate(client.workflow, handle.workflowId, stop!.command.id)));
      console.log('stop-in-flight:', JSON.stringify(await handle.result()));
      const history = await handle.fetchHistory();
      write('deployment--stop-in-flight.json', historyToJSON(history), history.events?.length);
    });
  } finally {
    await connection.close();
    await native.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
