/**
 * Workflow bundles preload workflows/stack-traces.ts (harness/bundles.ts bundleOptions): inside the sandbox
 * Error.stackTraceLimit is 0, so the SDK's promise hook formats no frames for the promises workflows create. A
 * fixture workflow reports what it sees on the dev server; the same fixture bundled without the preload sees V8's
 * default, which is the control that makes this test able to fail.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { bundleOptions } from '../../harness/bundles';
import { testStack } from '../helpers/stack';
import type { stackProbeWorkflow } from './fixtures/stack-probe-workflow';

const FIXTURE = require.resolve('./fixtures/stack-probe-workflow');
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;

beforeAll(async () => {
  const stack = testStack();
  nativeConnection = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  connection = await Connection.connect({ address: stack.TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: stack.TEMPORAL_NAMESPACE });
});

afterAll(async () => {
  await nativeConnection?.close();
  await connection?.close();
});

async function probe(options: Parameters<typeof bundleWorkflowCode>[0]): Promise<{ limit: number; frames: number }> {
  const taskQueue = `stack-probe-${randomUUID().slice(0, 8)}`;
  const worker = await Worker.create({ connection: nativeConnection, namespace: testStack().TEMPORAL_NAMESPACE, taskQueue, workflowBundle: await bundleWorkflowCode(options) });
  return worker.runUntil(client.workflow.execute<typeof stackProbeWorkflow>('stackProbeWorkflow', { taskQueue, workflowId: taskQueue, workflowExecutionTimeout: '30s' }));
}

test('the bundles the workers run capture no stack frames in workflow code', async () => {
  expect(await probe(bundleOptions(FIXTURE))).toEqual({ limit: 0, frames: 0 });
}, 90_000);

test('control: the same workflow bundled without the preload captures frames', async () => {
  const seen = await probe({ ...bundleOptions(FIXTURE), preloadModules: [] });
  expect(seen.limit).toBeGreaterThan(0);
  expect(seen.frames).toBeGreaterThan(0);
}, 90_000);
