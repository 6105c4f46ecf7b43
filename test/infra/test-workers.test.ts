/**
 * test/helpers/workers on the time-skipping server: workers a test left running with its body still awaiting (what a
 * jest timeout leaves behind) are stopped by the helper's afterEach, so the next test can poll the same task queue,
 * the abandoned body's long poll is cancelled, and the file's teardown can close the connection.
 */
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { testStack } from '../helpers/stack';
import { runWorkers } from '../helpers/workers';

const taskQueue = `test-workers-${randomUUID()}`;
let env: TestWorkflowEnvironment;
let abandoned: Promise<unknown> | undefined;

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testStack().TIME_SKIPPING_SERVER } } });
});

afterAll(async () => {
  await env?.teardown();
});

const activityWorker = () => Worker.create({ connection: env.nativeConnection, taskQueue, activities: { nothing: async () => undefined } });

test('a test that ends while its body still awaits a result and its worker polls', async () => {
  // a workflow no worker runs: its result() long-polls until cancelled
  const handle = await env.client.workflow.start('noSuchWorkflow', { taskQueue: `${taskQueue}-unpolled`, workflowId: randomUUID() });
  const worker = await activityWorker();
  abandoned = runWorkers(env.client, [worker], () => handle.result());
  abandoned.catch(() => undefined);
  while (worker.getState() !== 'RUNNING') await new Promise((r) => setTimeout(r, 10));
});

test('the next test registers a worker on the same task queue, and the abandoned body no longer waits', async () => {
  let timer: NodeJS.Timeout | undefined;
  const waiting = new Promise((r) => (timer = setTimeout(() => r('still waiting'), 5_000)));
  const outcome = await Promise.race([abandoned!.then(() => 'resolved', () => 'rejected'), waiting]).finally(() => clearTimeout(timer));
  expect(outcome).toBe('rejected');
  // without the helper's afterEach: "Registration of multiple workers ... on the same namespace, task queue"
  const next = await activityWorker();
  await expect(runWorkers(env.client, [next], async () => next.getState())).resolves.toBe('RUNNING');
});
