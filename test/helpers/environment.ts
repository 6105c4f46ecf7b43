/**
 * The jest environment of every suite: Node's, plus a check after the file's own teardown that it left no Temporal
 * worker running (recorded by test/helpers/worker-registry.ts). One left running is shut down here, so it cannot take
 * the next files' tasks, and the file fails, naming its task queues.
 */
import { TestEnvironment } from 'jest-environment-node';
import type { CreatedWorker } from './worker-registry';

const SHUTDOWN_WAIT_MS = 15_000;
const ACTIVE = new Set(['RUNNING', 'DRAINING', 'DRAINED', 'STOPPING']);

export default class WorkerCheckingEnvironment extends TestEnvironment {
  override async teardown(): Promise<void> {
    const created = (this.global as { __temporalWorkers?: CreatedWorker[] }).__temporalWorkers ?? [];
    const running = created.filter((w) => ACTIVE.has(w.worker.getState()));
    for (const w of running) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    const deadline = Date.now() + SHUTDOWN_WAIT_MS;
    while (running.some((w) => ACTIVE.has(w.worker.getState())) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await super.teardown();
    if (running.length > 0) {
      throw new Error(`this test file left ${running.length} Temporal worker(s) running after its last hook, on task queue(s) ${[...new Set(running.map((w) => w.taskQueue))].join(', ')}: shut them down in afterAll (they would take later files' tasks)`);
    }
  }
}
