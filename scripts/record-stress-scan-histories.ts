import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Pool } from 'pg';
import { createCpuActivities, type CpuActivities } from '../activities/cpu';
import { createJobActivities } from '../activities/jobs';
import { randomWalkBars } from '../domain/synthetic';
import { buildBundles } from '../harness/bundles';
import { storeBars } from '../harness/fixtures/bars';
import { queuedScan } from '../harness/fixtures/scans';
import { LOCAL_DIR } from '../harness/paths';
import { privateStack } from '../harness/stack';
import { connectTemporal } from '../platform/temporal';
import { ErrorType } from '../workflows/errors';
import { stressScanProgressQuery, type StressScanWorkflowInput } from '../workflows/stress-scan/messages';
import { stressScanWorkflow } from '../workflows/stress-scan/workflow';
import { TASK_QUEUES } from '../workflows/task-queues';

/**
 * Records the stress-scan replay fixtures (test/replay/histories/stress-scan--<scenario>.json) on a real dev server
 * with the current workflow code: a scan in several batches, the first and last runs of a scan that continued as
 * new, a cancelled scan, and one whose batch failed for good. Run after a deliberate workflow change:
 * `npx tsx scripts/record-stress-scan-histories.ts` (starts its own servers).
 */
const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'test', 'replay', 'histories');
const settings = { strategy: 'sma-cross', commissionRate: 0.0005 };
const grid = { fast: { from: 2, to: 21, step: 1 }, slow: { from: 60, to: 79, step: 1 } };

interface Scenario {
  name: string;
  spec: Record<string, unknown>;
  batchRuns: number;
  input?: Partial<StressScanWorkflowInput>;
  activities?: (real: CpuActivities) => Partial<CpuActivities>;
  /** after the workflow started (e.g. cancel it) */
  act?: (handle: WorkflowHandle<typeof stressScanWorkflow>) => Promise<void>;
  /** also record the first run of the chain under this name */
  firstRunAs?: string;
}

const scenarios: Scenario[] = [
  { name: 'completed', spec: { settings, grid, objective: 'sharpe' }, batchRuns: 100 },
  {
    name: 'continued',
    firstRunAs: 'continue-as-new',
    spec: { type: 'optimization', settings, grid: { period: { from: 5, to: 24, step: 1 } }, walkForward: { trainBars: 500, testBars: 250 } },
    batchRuns: 4,
    input: { historyBudget: 100 },
  },
  {
    name: 'cancelled',
    spec: { settings, grid },
    batchRuns: 100,
    activities: () => ({
      async runStressScanBatch() {
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          await Promise.race([ctx.cancelled, ctx.sleep(100)]);
        }
      },
    }),
    act: async (handle) => {
      while ((await handle.query(stressScanProgressQuery)).batchesInFlight < 4) await new Promise((r) => setTimeout(r, 100));
      await handle.cancel();
    },
  },
  {
    name: 'failed-batch',
    spec: { settings, grid },
    batchRuns: 100,
    activities: (real) => ({
      ...real,
      async runStressScanBatch(input) {
        if (input.from === 200) throw ApplicationFailure.nonRetryable('a batch that cannot run', ErrorType.InvalidInput);
        return real.runStressScanBatch(input);
      },
    }),
  },
];

async function main() {
  const stack = await privateStack({ dir: path.join(LOCAL_DIR, 'record'), dbPrefix: 'record_scans', temporal: true, redis: false });
  const pool = new Pool({ connectionString: stack.DATABASE_URL, max: 4 });
  const { client, connection } = await connectTemporal({ TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: 'default' });
  const native = await NativeConnection.connect({ address: stack.TEMPORAL_ADDRESS });
  try {
    const bundleDir = path.join(LOCAL_DIR, 'record', 'bundles');
    await buildBundles(bundleDir);
    await storeBars(pool, 'SCAN', '1d', randomWalkBars(2_000, { seed: 5, stepMs: 86_400_000 }));
    const signaller = { signal: (id: string, runId: string | undefined, name: string, arg: unknown) => client.workflow.getHandle(id, runId).signal(name, arg) };
    const real = createCpuActivities({ db: pool, workflows: signaller });
    mkdirSync(OUT, { recursive: true });
    const write = async (name: string, handle: WorkflowHandle) => {
      const file = path.join(OUT, `stress-scan--${name}.json`);
      writeFileSync(file, historyToJSON(await handle.fetchHistory()));
      console.log(`recorded ${path.relative(ROOT, file)}`);
    };
    for (const s of scenarios) {
      const job = await queuedScan(pool, { symbol: 'SCAN', timeframe: '1d', spec: s.spec }, { batchRuns: s.batchRuns, requestedBy: 'recorder' });
      const cpu = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.cpu, workflowBundle: { codePath: path.join(bundleDir, 'cpu.js') }, activities: s.activities?.(real) ?? real, maxHeartbeatThrottleInterval: '2 seconds' });
      const io = await Worker.create({ connection: native, taskQueue: TASK_QUEUES.io, activities: createJobActivities({ db: pool }) });
      const handle = await client.workflow.start(stressScanWorkflow, { taskQueue: TASK_QUEUES.cpu, workflowId: job.workflowId, args: [{ jobId: job.jobId, label: `recorder · ${s.name}`, ...s.input }] });
      await cpu.runUntil(
        io.runUntil(async () => {
          await s.act?.(handle);
          await handle.result().catch(() => undefined);
        }),
      );
      await write(s.name, client.workflow.getHandle(job.workflowId));
      if (s.firstRunAs) await write(s.firstRunAs, client.workflow.getHandle(job.workflowId, handle.firstExecutionRunId));
    }
  } finally {
    await native.close();
    await connection.close();
    await pool.end();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
