/**
 * CPU accounting of the runtime benchmark: which processes are the stack, and the CPU they spent per deployment
 * per bar close. The measured window is whole bar periods, [close - 0.1 s, next close - 0.1 s) for each measured
 * close, so it holds each close's burst (evaluation, wakes, orders, audit rows) and everything the stack does
 * between closes (timers, pollers, heartbeats, Postgres' background work): all of it is the price of running N
 * deployments, and a design that moves work out of the burst does not hide it.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { between, type Classify, type CpuUsage, type Sample } from '../../harness/processes/cpu-sampler';
import { backendPid, databaseName } from './runtime-sql';

/** Groups that are the benchmark's harness, not the stack: the server watchdogs' shell loops (a `sleep` a second each). */
const NOT_STACK = new Set(['harness']);

export interface CpuPerDeploymentClose {
  /** CPU ms of every stack process (the groups below) over the measured windows / (deployments x closes) */
  total: number;
  /** the same per group (a group dips below 0 only if a process moved to another group's parent; the total holds) */
  byGroup: Record<string, number>;
  /** not in `total`: the harness' watchdogs, and the machine's busy time no stack process was charged for (interrupt work, kernel threads, the agent's tools) */
  notCounted: { harness: number; otherOnMachine: number };
  /** the whole machine's busy time (steal excluded) / (deployments x closes), for comparison */
  machine: number;
  /** CPU ms per deployment of each measured close */
  perClose: Array<number | null>;
  windowSeconds: number;
  /** cores the hypervisor gave to other machines during the window (other agents on the host) */
  stealCores: number;
}

/** Which stack process a pid is, for the CPU sampler (harness/stack starts Redis and Temporal as children of this process). */
export async function stackClassifier(o: { pool: Pool; redis: Redis; temporalAddress: string; paperPid: number; cpuWorkerPid: number | undefined }): Promise<Classify> {
  // The parent of our backend is the postmaster (unless the server is on another host: then Postgres is not counted).
  let postmaster: number | undefined;
  try {
    const stat = readFileSync(`/proc/${await backendPid(o.pool)}/stat`, 'utf8');
    postmaster = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    postmaster = undefined;
  }
  const database = await databaseName(o.pool);
  const redisPid = Number(/process_id:(\d+)/.exec(await o.redis.info('server'))?.[1] ?? 0);
  const temporalPort = o.temporalAddress.split(':')[1];
  return ({ pid, ppid, cmdline }) => {
    if (postmaster && pid === postmaster) return 'postgres';
    if (postmaster && ppid === postmaster) {
      // A backend shows "postgres: <user> <database> <client> <state>"; one of another database is not this run's
      // (a shared server given by DATABASE_URL). Background processes (checkpointer, WAL writer, autovacuum) count.
      const backend = /^postgres: \S+ (\S+) (?:\[local\]|\S+\(\d+\))/.exec(cmdline);
      return backend && backend[1] !== database ? null : 'postgres';
    }
    if (pid === redisPid) return 'redis';
    if (cmdline.includes('start-dev') && cmdline.includes(`--port ${temporalPort} `)) return 'temporal';
    if (pid === o.paperPid) return 'paperBroker';
    if (pid === o.cpuWorkerPid) return 'cpuWorker';
    if (ppid === process.pid && cmdline.includes('io-worker.ts')) return 'ioWorkers';
    if (ppid === process.pid && cmdline.includes('while kill -0')) return 'harness';
    if (pid === process.pid) return 'bench';
    return undefined;
  };
}

/** The stack's CPU ms in `u` (the harness left out). */
const stackMs = (u: CpuUsage) => Object.entries(u.ms).reduce((a, [g, ms]) => (NOT_STACK.has(g) ? a : a + ms), 0);
const r2 = (x: number) => Math.round(x * 100) / 100;

/** CPU per deployment and close from the boundary samples taken at each measured close and at the close after the last. */
export function cpuPerDeploymentClose(boundaries: ReadonlyArray<Sample | undefined>, deployments: number): CpuPerDeploymentClose | undefined {
  const first = boundaries[0];
  const last = boundaries[boundaries.length - 1];
  const closes = boundaries.length - 1;
  const window = first && last && closes > 0 ? between(first, last) : undefined;
  if (!window) return undefined;
  const per = (ms: number) => r2(ms / (deployments * closes));
  const total = stackMs(window);
  const allGroups = Object.values(window.ms).reduce((a, b) => a + b, 0);
  const byGroup: Record<string, number> = {};
  for (const [g, ms] of Object.entries(window.ms)) if (!NOT_STACK.has(g)) byGroup[g] = per(ms);
  const perClose = boundaries.slice(0, -1).map((b, i) => {
    const u = b && boundaries[i + 1] ? between(b, boundaries[i + 1]!) : undefined;
    return u ? r2(stackMs(u) / deployments) : null;
  });
  return {
    total: per(total),
    byGroup,
    notCounted: { harness: per(window.ms.harness ?? 0), otherOnMachine: per(Math.max(0, window.machineMs - allGroups)) },
    machine: per(window.machineMs),
    perClose,
    windowSeconds: window.seconds,
    stealCores: window.stealCores,
  };
}

/** The machine's busy cores not charged to a classified group, as `otherProcesses` beside the groups. */
export function withOthers(u: CpuUsage | undefined): CpuUsage | undefined {
  if (!u) return undefined;
  const known = Object.values(u.cores).reduce((a, b) => a + b, 0);
  return { ...u, cores: { ...u.cores, otherProcesses: Math.max(0, r2(u.machineCores - known)) } };
}

export const fmtCpu = (u?: CpuUsage) =>
  u
    ? `cpu ${u.machineCores.toFixed(2)} cores (${Object.entries(u.cores)
        .filter(([, v]) => v >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')})`
    : 'cpu n/a';

/** Takes one sample at each instant (wall ms): `at[i]` resolves with the i-th once taken; cancel() drops those not taken yet. */
export function sampleAt(sample: () => Sample | undefined, instants: readonly number[]): { at: Array<Promise<Sample | undefined>>; cancel(): void } {
  const timers: NodeJS.Timeout[] = [];
  const at = instants.map((t) => new Promise<Sample | undefined>((resolve) => timers.push(setTimeout(() => resolve(sample()), Math.max(0, t - Date.now())))));
  return { at, cancel: () => timers.forEach(clearTimeout) };
}
