import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';

/**
 * Workers for tests on one test server, stopped even when the test times out. Jest abandons a timed-out test but
 * its body keeps awaiting, and `worker.runUntil(fn)` keeps its workers polling until `fn` settles: the next test then
 * cannot register a worker on the same task queue, the file's teardown cannot close the connection, and the client's
 * long poll retries against the stopped server while the next suite runs. Importing this module adds an afterEach
 * (and an afterAll) that stops whatever a test left running.
 */

/** How long stopping a test's workers may take (an activity that ignores its cancel holds a worker's shutdown). */
const STOP_WAIT_MS = 15_000;

interface Running {
  workers: Worker[];
  /** set when the workers were stopped from outside the test body (it ended first: a jest timeout) */
  abandoned?: boolean;
  runs: Array<Promise<void>>;
  /** Cancels the test body's client calls (a result() long poll would never end once the workers are gone). */
  calls: AbortController;
}

const running = new Set<Running>();

/**
 * Runs `fn` while `workers` poll, then stops them and waits until they have. `fn`'s calls through `client` are
 * cancelled if the test ends first; a worker that fails ends `fn` with its error.
 */
export async function runWorkers<T>(client: Pick<Client, 'withAbortSignal'>, workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const run: Running = { workers, runs: workers.map((w) => w.run()), calls: new AbortController() };
  running.add(run);
  const failed = Promise.race(run.runs).then(() => {
    throw new Error(run.abandoned ? `the test ended before its body; its workers (${queues(run)}) were stopped` : `a worker stopped while the test still needed it (${queues(run)})`);
  });
  try {
    return await Promise.race([client.withAbortSignal(run.calls.signal, fn), failed]);
  } finally {
    await stop(run);
  }
}

/** Cancels the test body's calls, shuts the workers down and waits (bounded) until they have stopped. */
async function stop(run: Running): Promise<void> {
  running.delete(run);
  run.calls.abort();
  for (const w of run.workers) if (w.getState() === 'RUNNING') w.shutdown();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_WAIT_MS)));
  const settled = Promise.allSettled(run.runs);
  const outcome = await Promise.race([settled, deadline]).finally(() => clearTimeout(timer));
  if (outcome === 'late') throw new Error(`workers (${queues(run)}) still running ${STOP_WAIT_MS} ms after shutdown`);
  const failure = outcome.find((r) => r.status === 'rejected');
  if (failure) throw failure.reason;
}

const queues = (run: Running) => run.workers.map((w) => w.options.taskQueue).join(', ');

/** Stops what a test left running; after each test, and once more before the file's own teardown. */
async function stopAbandoned(): Promise<void> {
  const left = [...running];
  for (const run of left) run.abandoned = true;
  if (left.length > 0) await Promise.all(left.map(stop));
}

afterEach(stopAbandoned);
// hooks declared at import come before the file's own afterAll (env.teardown), and jest runs afterAll hooks in order
afterAll(stopAbandoned);
