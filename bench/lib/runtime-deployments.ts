/**
 * The runtime benchmark's deployments: created as POST /v1/deployments creates them (services/deployments.ts: rows,
 * audit, the workflow with the same options; in batch mode also the group's evaluator), all on one replay clock,
 * and stopped with the product's stop command.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Pool } from 'pg';
import { parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment/spec';
import { withTimeout } from '../../harness/async';
import { issueDeploymentCommand } from '../../services/deployment-commands';
import { createDeployment } from '../../services/deployments';
import type { ReplayClockSpec } from '../../workflows/deployment/messages';
import type { deploymentWorkflow } from '../../workflows/deployment/workflow';

export const ACCOUNT = 'bench-runtime';
/** Deployments created at once: enough to keep Postgres and the dev server busy, few enough not to time out starts. */
const CREATE_CONCURRENCY = 16;
/** A create that failed (Temporal did not answer the start in time under the load) is tried again this often. */
const CREATE_RETRIES = 2;

export type WorkflowType = 'deploymentWorkflow' | 'runtimeFloorWorkflow';
type Handle = WorkflowHandle<typeof deploymentWorkflow>;
export interface BenchDeployment {
  id: string;
  handle: Handle;
}

function deploymentSpec(symbol: string, settleMs: number, evaluation: DeploymentSpec['evaluation']): DeploymentSpec {
  return parseDeploymentSpec({
    strategy: 'sma-cross',
    // close against its 2-bar SMA: an order on about a third of 1-minute closes of the shared index-future bars
    params: { period: 2 },
    symbols: [symbol],
    timeframe: '1m',
    accountId: ACCOUNT,
    broker: 'paper',
    quantity: 1,
    allowShort: false,
    calendar: 'XNYS',
    settleDelayMs: settleMs,
    // limits that never block these orders: one unit of one symbol per deployment, every deployment in one account
    riskLimits: { maxPositionQty: 10, maxExposure: 1e6, maxOpenPositions: 10_000, dailyLossLimit: 1e6 },
    ...(evaluation ? { evaluation } : {}),
  });
}

/** Runs `fn` over `items`, `concurrency` at a time. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
    }),
  );
  return out;
}

export interface StartDeployments {
  pool: Pool;
  client: Client;
  symbols: readonly string[];
  clock: ReplayClockSpec;
  settleMs: number;
  workflowType: WorkflowType;
  /** spec.evaluation; the floor's deployments leave it out (no evaluator must see them) */
  evaluation?: DeploymentSpec['evaluation'];
  log(m: string): void;
}

/** Creates one deployment per symbol, CREATE_CONCURRENCY at a time; a create that fails is tried again (its failed row stays, without cycles). */
export async function startDeployments(s: StartDeployments): Promise<BenchDeployment[]> {
  const replay = { from: new Date(s.clock.dataStartMs).toISOString(), speed: s.clock.speed, wallStartMs: s.clock.wallStartMs };
  let done = 0;
  let retried = 0;
  const every = Math.max(100, Math.ceil(s.symbols.length / 4 / 100) * 100);
  const created = await inParallel(s.symbols, CREATE_CONCURRENCY, async (symbol) => {
    const spec = deploymentSpec(symbol, s.settleMs, s.evaluation);
    for (let attempt = 0; ; attempt++) {
      try {
        const d = await createDeployment({ db: s.pool, temporal: s.client }, { spec, by: 'bench', name: `runtime bench ${symbol}`, replay }, { workflowType: s.workflowType });
        if (++done % every === 0) s.log(`${done}/${s.symbols.length} deployments created`);
        return { id: d.id, handle: d.handle as Handle };
      } catch (err) {
        if (attempt >= CREATE_RETRIES) throw err;
        retried++;
        s.log(`creating the deployment of ${symbol} failed (${(err as Error).message}); trying again`);
      }
    }
  });
  if (retried) s.log(`${retried} create(s) tried again`);
  return created;
}

/** Sends every deployment the product's stop command (recorded, then sent as the API sends it); how many completed. */
export async function stopDeployments(pool: Pool, client: Client, deployments: readonly BenchDeployment[]): Promise<number> {
  const stopped = await inParallel(deployments, 16, async ({ id, handle }) => {
    try {
      await withTimeout('stop command', 30_000, issueDeploymentCommand({ db: pool, temporal: client }, { deploymentId: id, kind: 'stop', by: 'bench' }));
      await withTimeout(`${handle.workflowId} to stop`, 120_000, handle.result());
      return true;
    } catch {
      return false; // counted as not stopped cleanly; the round's cleanup terminates it
    }
  });
  return stopped.filter(Boolean).length;
}
