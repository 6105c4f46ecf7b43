/**
 * The capacity report: per task queue, the backlog and how long its oldest task has waited (Temporal's
 * DescribeTaskQueue with stats, for workflow and activity tasks), the pollers Temporal sees, and CPU and memory of
 * each live worker from its heartbeat; then the advice (domain/capacity.ts).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Redis } from 'ioredis';
import { capacityAdvice, DEFAULT_THRESHOLDS, type CapacityThresholds, type QueueLoad } from '../domain/capacity';
import { listLiveWorkers } from '../platform/heartbeat';
import { TASK_QUEUES } from '../workflows/task-queues';
import { temporalCall, type InflightCalls } from './temporal-call';

export interface CapacityDeps {
  temporal: Client;
  redis: Redis;
  inflight?: InflightCalls;
}

export interface QueueReport extends QueueLoad {
  workflowTasks: { backlog: number; backlogAgeMs: number };
  activityTasks: { backlog: number; backlogAgeMs: number };
}

export interface CapacityReport {
  at: string;
  queues: QueueReport[];
  advice: string[];
}

const TYPES = temporal.api.enums.v1.TaskQueueType;
const TEMPORAL_MS = 5_000;

const durationMs = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  d ? Number(d.seconds ?? 0) * 1_000 + Math.round((d.nanos ?? 0) / 1e6) : 0;

async function describe(deps: CapacityDeps, queue: string, type: temporal.api.enums.v1.TaskQueueType) {
  const client = deps.temporal;
  const res = await temporalCall(deps, `describing task queue ${queue}`, TEMPORAL_MS, () =>
    client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, taskQueueType: type, reportStats: true }),
  );
  return { backlog: Number(res.stats?.approximateBacklogCount ?? 0), backlogAgeMs: durationMs(res.stats?.approximateBacklogAge), pollers: res.pollers?.length ?? 0 };
}

export async function capacityReport(deps: CapacityDeps, thresholds: CapacityThresholds = DEFAULT_THRESHOLDS): Promise<CapacityReport> {
  const live = await listLiveWorkers(deps.redis).catch(() => []);
  const queues = await Promise.all(
    (Object.keys(TASK_QUEUES) as Array<keyof typeof TASK_QUEUES>).map(async (kind): Promise<QueueReport> => {
      const name = TASK_QUEUES[kind];
      const [wf, act] = await Promise.all([describe(deps, name, TYPES.TASK_QUEUE_TYPE_WORKFLOW), describe(deps, name, TYPES.TASK_QUEUE_TYPE_ACTIVITY)]);
      return {
        queue: kind,
        backlog: wf.backlog + act.backlog,
        backlogAgeMs: Math.max(wf.backlogAgeMs, act.backlogAgeMs),
        pollers: Math.max(wf.pollers, act.pollers),
        workflowTasks: { backlog: wf.backlog, backlogAgeMs: wf.backlogAgeMs },
        activityTasks: { backlog: act.backlog, backlogAgeMs: act.backlogAgeMs },
        workers: live
          .filter((w) => w.queue === name)
          .map((w) => ({ identity: w.identity, cpuPct: w.cpuPct ?? null, rssBytes: w.rssBytes ?? null, hostMemBytes: w.hostMemBytes ?? null })),
      };
    }),
  );
  return { at: new Date().toISOString(), queues, advice: capacityAdvice(queues, thresholds) };
}
