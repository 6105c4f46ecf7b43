import path from 'node:path';
import { WorkerSupervisor } from '../../harness/processes/worker-supervisor';
import { prepareScan } from '../../domain/scan/prepare';
import { AUTH, startApi, type ApiHarness } from '../api/harness';
import { storeBars, syntheticBars, uniqueSymbol } from '../helpers/db';
import { startWorker, waitFor, WORKER_BUNDLE_ENV, workerBundleArgs, type RunningProcess } from '../helpers/processes';
import { localDocument, storedDocument } from '../helpers/scans';
import { testStack } from '../helpers/stack';

/**
 * The CPU worker process SIGKILLed twice in the middle of a scan's batches (on the dev server, restarted by a
 * supervisor): the scan finishes with the document an uninterrupted scan stores (and the in-process scan prints),
 * every cell is inserted once, no attempt that finished recomputed a stored cell, and the work lost is at most the
 * batches that were in flight.
 */
let h: ApiHarness;
let cpu: WorkerSupervisor;
let io: RunningProcess;
const symbol = uniqueSymbol('KILL');
// 100k minute bars: 240 runs per batch (0.5-2 s of one core: on a quiet machine a batch is short, so a batch counts as in flight 150 ms after it began); 1,200 cells = 5 batches
const bars = syntheticBars(100_000, 21, 60_000);
const spec = { settings: { strategy: 'sma-cross', commissionRate: 0.0005 }, grid: { fast: { from: 5, to: 34, step: 1 }, slow: { from: 40, to: 79, step: 1 } }, objective: 'sharpe' };
const CPU_SLOTS = 2;

beforeAll(async () => {
  const stack = testStack();
  const env = {
    PATH: process.env.PATH!, HOME: process.env.HOME!,
    DATABASE_URL: stack.DATABASE_URL, REDIS_URL: stack.REDIS_URL, TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: stack.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: stack.WORKFLOW_BUNDLE_DIR, LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '2000', SHUTDOWN_FORCE_MS: '5000', CPU_ACTIVITY_SLOTS: String(CPU_SLOTS),
  };
  cpu = new WorkerSupervisor({ ...env, ...WORKER_BUNDLE_ENV }, 1, () => ({}), () => undefined, { kind: 'cpu', logDir: path.join(__dirname, '..', '.artifacts', 'stress-scan-kill'), nodeArgs: workerBundleArgs('cpu') });
  cpu.start();
  io = startWorker('io', env);
  h = await startApi();
  await storeBars(h.db, symbol, '1m', bars);
  await waitFor('both workers to report to /health', async () => (await h.app.inject({ method: 'GET', url: '/health' })).statusCode === 200, 60_000);
}, 90_000);

afterAll(async () => {
  await cpu?.stop();
  await io?.stop();
  await h?.close();
});

async function startScan(): Promise<string> {
  const res = await h.app.inject({ method: 'POST', url: '/v1/stress-scans', headers: AUTH.trader, payload: { symbol, timeframe: '1m', ...spec } });
  expect(res.json()).toMatchObject({ runsTotal: 1_200, batches: 5 });
  return res.json().id;
}

const job = async (id: string) => (await h.db.query<{ status: string; runs_done: number }>('SELECT status, runs_done, error FROM stress_scan_jobs WHERE id = $1', [id])).rows[0];
const finished = (id: string) => waitFor(`scan ${id} to finish`, async () => ['completed', 'failed', 'cancelled'].includes((await job(id)).status) && job(id), 240_000);

let lastKill = new Date(0);

/**
 * Waits until the live worker has been computing a batch of this scan for a while (attempts cut short by an earlier
 * kill stay unfinished, so only attempts begun since then count), then kills that worker.
 */
async function killMidBatch(id: string, minRunsDone: number): Promise<void> {
  await waitFor(`scan ${id} to be inside a batch with ${minRunsDone}+ runs stored`, async () => {
    const { rows } = await h.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM stress_scan_batches WHERE job_id = $1 AND finished_at IS NULL AND started_at > $2 AND started_at < clock_timestamp() - interval '150 milliseconds'`,
      [id, lastKill],
    );
    return Number(rows[0].n) > 0 && (await job(id)).runs_done >= minRunsDone && cpu.alive() === 1;
  }, 120_000).catch(async (e: Error) => {
    // say where the scan stood, so a timeout names its cause
    const { rows } = await h.db.query('SELECT stage, from_run, attempt, worker, skipped, computing, inserted, started_at, finished_at FROM stress_scan_batches WHERE job_id = $1 ORDER BY started_at', [id]);
    throw new Error(`${e.message}; job ${JSON.stringify(await job(id))}; alive ${cpu.alive()}; attempts ${JSON.stringify(rows)}`);
  });
  expect(cpu.killOne(0)).toBe(true);
  lastKill = (await h.db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
}

test('two SIGKILLs of the CPU worker mid-scan: the same document as an uninterrupted run, no stored cell computed again', async () => {
  const uninterrupted = await startScan();
  expect(await finished(uninterrupted)).toMatchObject({ status: 'completed', runs_done: 1_200 });

  const killed = await startScan();
  await killMidBatch(killed, 0);
  await killMidBatch(killed, 240);
  expect(await finished(killed)).toMatchObject({ status: 'completed', runs_done: 1_200 });
  expect(cpu.stats).toMatchObject({ harnessKills: 2, restarts: 2, errorExits: 0 });

  const document = await storedDocument(h.db, killed);
  expect(document).toBe(await storedDocument(h.db, uninterrupted));
  expect(document).toBe(localDocument(bars, prepareScan(spec), symbol, '1m'));

  const { rows: attempts } = await h.db.query<{ computing: number; inserted: number | null; finished: boolean }>(
    'SELECT computing, inserted, finished_at IS NOT NULL AS finished FROM stress_scan_batches WHERE job_id = $1',
    [killed],
  );
  const done = attempts.filter((a) => a.finished);
  const dead = attempts.filter((a) => !a.finished);
  // every attempt that finished computed exactly what it inserted: the runs not stored when it started
  for (const a of done) expect(a.computing).toBe(a.inserted);
  expect(done.reduce((n, a) => n + a.computing, 0)).toBe(1_200);
  // the attempts the kills cut short: at most the batches in flight on the killed worker, each at most 240 runs
  // (one computes at a time; the one before it may still have been storing)
  expect(dead.length).toBeGreaterThanOrEqual(2);
  expect(dead.length).toBeLessThanOrEqual(2 * CPU_SLOTS);
  const lost = dead.reduce((n, a) => n + a.computing, 0);
  expect(lost).toBeLessThanOrEqual(2 * CPU_SLOTS * 240);
  const { rows: cells } = await h.db.query<{ n: string }>('SELECT count(*) AS n FROM stress_scan_cells WHERE job_id = $1', [killed]);
  expect(Number(cells[0].n)).toBe(1_200);
}, 400_000);
