/**
 * Capacity advice from what Temporal and the worker heartbeats report: pure, so each rule is tested on its numbers.
 * One line per finding, each naming what to do.
 */

export interface WorkerLoad {
  identity: string;
  /** share of one core this process used over its last heartbeat interval, in % (may exceed 100 with threads) */
  cpuPct: number | null;
  rssBytes: number | null;
  /** the host's memory, for the share a worker takes */
  hostMemBytes: number | null;
}

export interface QueueLoad {
  queue: 'cpu' | 'io';
  /** tasks waiting for a worker (workflow and activity tasks) */
  backlog: number;
  /** how long the oldest waiting task has waited: the schedule-to-start latency a new task meets now */
  backlogAgeMs: number;
  /** workers polling the queue, as Temporal saw them */
  pollers: number;
  /** live workers of this queue, from their heartbeats */
  workers: WorkerLoad[];
}

export interface CapacityThresholds {
  /** a wait to start at least this long is worth acting on */
  waitMs: number;
  /** workers of the queue busier than this on average: add a worker rather than slots */
  busyCpuPct: number;
  /** a worker holding more than this share of its host's memory */
  memShare: number;
}

export const DEFAULT_THRESHOLDS: CapacityThresholds = { waitMs: 10_000, busyCpuPct: 70, memShare: 0.8 };

const WHAT: Record<QueueLoad['queue'], string> = { cpu: 'backtests and scans', io: 'IO work (deployment cycles, orders, notifications, maintenance)' };
const NAME: Record<QueueLoad['queue'], string> = { cpu: 'CPU', io: 'IO' };
const A_NAME: Record<QueueLoad['queue'], string> = { cpu: 'a CPU', io: 'an IO' };

const seconds = (ms: number) => Math.round(ms / 1000);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function capacityAdvice(queues: QueueLoad[], t: CapacityThresholds = DEFAULT_THRESHOLDS): string[] {
  const advice: string[] = [];
  for (const q of queues) {
    const waiting = q.backlog > 0 && q.backlogAgeMs >= t.waitMs;
    const alive = q.workers.length;
    if (alive === 0 && q.pollers === 0) {
      advice.push(
        q.backlog > 0
          ? `${WHAT[q.queue]} wait ${seconds(q.backlogAgeMs)} s to start (${q.backlog} queued) and no ${NAME[q.queue]} worker is alive: start ${A_NAME[q.queue]} worker`
          : `no ${NAME[q.queue]} worker is alive: start one before ${WHAT[q.queue]} arrive`,
      );
      continue;
    }
    if (waiting) {
      const cpu = mean(q.workers.flatMap((w) => (w.cpuPct === null ? [] : [w.cpuPct])));
      const lead = `${WHAT[q.queue]} wait ${seconds(q.backlogAgeMs)} s to start (${q.backlog} queued)`;
      if (q.queue === 'cpu' && cpu !== null && cpu < t.busyCpuPct) {
        advice.push(`${lead} while CPU workers use ${Math.round(cpu)} % CPU: raise CPU_ACTIVITY_SLOTS`);
      } else {
        advice.push(`${lead}: add ${A_NAME[q.queue]} worker${cpu === null ? '' : ` (the ${alive} running use ${Math.round(cpu)} % CPU)`}`);
      }
    }
    for (const w of q.workers) {
      if (w.rssBytes !== null && w.hostMemBytes && w.rssBytes / w.hostMemBytes > t.memShare) {
        advice.push(`worker ${w.identity} uses ${Math.round(w.rssBytes / 2 ** 20)} MB of the host's ${Math.round(w.hostMemBytes / 2 ** 20)} MB: give it a host with more memory`);
      }
    }
  }
  if (advice.length === 0) advice.push(`capacity is fine: nothing waits ${seconds(t.waitMs)} s or more to start`);
  return advice;
}
