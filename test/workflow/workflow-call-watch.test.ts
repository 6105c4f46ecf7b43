/**
 * workers/workflow-call-watch.ts replaces the SDK's watchdog thread per entry into workflow code with one timer on
 * the main thread. On the dev server: ordinary workflows run with every entry watched (counted, so the preload is
 * shown to be in the workflow thread); an endless loop in workflow code is stopped within its limit and the Worker
 * fails rather than wedging; uninstalled, the SDK's own per-call timeout is back (no call watched).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { bundleOptions } from '../../harness/bundles';
import { watchWorkflowCalls } from '../../workers/workflow-call-watch';
import { testStack } from '../helpers/stack';
import type { endlessLoopWorkflow, sleepsWorkflow } from './fixtures/call-watch-workflows';

let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let workflowBundle: { code: string };

beforeAll(async () => {
  const stack = testStack();
  nativeConnection = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
  workflowBundle = await bundleWorkflowCode(bundleOptions(require.resolve('./fixtures/call-watch-workflows')));
}, 60_000);

afterAll(async () => {
  await nativeConnection?.close();
  await connection?.close();
});

// The SDK's isolateExecutionTimeout (5 s by default) is not in its public options type; 1 s keeps the test short.
const shortLimit = { isolateExecutionTimeout: '1s' } as object;
const newWorker = (taskQueue: string) =>
  Worker.create({ connection: nativeConnection, namespace: testStack().TEMPORAL_NAMESPACE, taskQueue, workflowBundle, workflowThreadPoolSize: 1, ...shortLimit });

test('ordinary workflows run with every entry into their code watched by the main thread', async () => {
  const runaways: unknown[] = [];
  const watch = watchWorkflowCalls({ onRunaway: (r) => runaways.push(r) });
  try {
    const taskQueue = `call-watch-${randomUUID().slice(0, 8)}`;
    const worker = await newWorker(taskQueue);
    expect(watch.stats().threads).toBe(1);
    const result = await worker.runUntil(client.workflow.execute<typeof sleepsWorkflow>('sleepsWorkflow', { taskQueue, workflowId: taskQueue, args: [5], workflowExecutionTimeout: '30s' }));
    expect(result).toBe(5);
    // at least: the runtime's set-up, then activate and conclude for the start and each of the 5 timers
    expect(watch.stats().calls).toBeGreaterThan(12);
    expect(runaways).toEqual([]);
  } finally {
    watch.uninstall();
  }
}, 60_000);

test('an endless loop in workflow code is stopped at its limit: the thread ends and the Worker fails', async () => {
  const runaways: Array<{ ranMs: number; limitMs: number }> = [];
  const watch = watchWorkflowCalls({ onRunaway: (r) => runaways.push(r), checkEveryMs: 100 });
  try {
    const taskQueue = `call-watch-loop-${randomUUID().slice(0, 8)}`;
    const worker = await newWorker(taskQueue);
    await client.workflow.start<typeof endlessLoopWorkflow>('endlessLoopWorkflow', { taskQueue, workflowId: taskQueue, workflowExecutionTimeout: '30s' });
    const started = Date.now();
    await expect(worker.run()).rejects.toThrow(/Workflow Worker Thread/);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(runaways).toHaveLength(1);
    expect(runaways[0]!.limitMs).toBe(1_000);
    expect(runaways[0]!.ranMs).toBeGreaterThan(1_000);
    await client.workflow.getHandle(taskQueue).terminate('test done');
  } finally {
    watch.uninstall();
  }
}, 60_000);

test('control: uninstalled, the SDK per-call timeout fails the looping task and its Worker keeps running', async () => {
  const watch = watchWorkflowCalls({ onRunaway: () => undefined });
  watch.uninstall();
  const taskQueue = `call-watch-off-${randomUUID().slice(0, 8)}`;
  const worker = await newWorker(taskQueue);
  const handle = await client.workflow.start<typeof endlessLoopWorkflow>('endlessLoopWorkflow', { taskQueue, workflowId: taskQueue, workflowExecutionTimeout: '30s' });
  const failedTask = worker.runUntil(async () => {
    for (;;) {
      const { events } = await handle.fetchHistory();
      const failed = events?.find((e) => e.workflowTaskFailedEventAttributes);
      if (failed) return failed.workflowTaskFailedEventAttributes!.failure?.message ?? '';
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  expect(await failedTask).toMatch(/timed out after 1000ms/);
  expect(watch.stats()).toEqual({ threads: 0, calls: 0 });
  await handle.terminate('test done');
}, 60_000);
