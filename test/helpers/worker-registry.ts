/**
 * Every Temporal worker a test file creates in the jest process is recorded here (a setup file of every suite), so
 * the test environment (test/helpers/environment.ts) can find one the file left running. Jest runs every file in one
 * process: a worker left polling the shared server's task queue would take a share of every later file's activities,
 * with its own file's brokers (chaos r7 once lost 3 of 20 orders to one).
 */
import { Worker, type WorkerOptions } from '@temporalio/worker';

export interface CreatedWorker {
  worker: Worker;
  taskQueue: string;
}

const created: CreatedWorker[] = [];
(globalThis as { __temporalWorkers?: CreatedWorker[] }).__temporalWorkers = created;

const create = Worker.create.bind(Worker);
Worker.create = async (options: WorkerOptions) => {
  const worker = await create(options);
  created.push({ worker, taskQueue: options.taskQueue });
  return worker;
};
