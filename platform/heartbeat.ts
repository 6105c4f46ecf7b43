import os from 'node:os';
import type { Redis } from 'ioredis';

export const WORKER_HEARTBEAT_PREFIX = 'worker:heartbeat:';
export const WORKER_HEARTBEAT_TTL_S = 30;
const REFRESH_MS = 10_000;

export interface WorkerHeartbeat {
  queue: string;
  identity: string;
  pid: number;
  host: string;
  startedAt: string;
  at: string;
  /** share of one core used since the previous beat, in % (the capacity report) */
  cpuPct?: number;
  rssBytes?: number;
  hostMemBytes?: number;
}

/**
 * Keeps `worker:heartbeat:<queue>:<identity>` alive in Redis (TTL 30 s) while the worker runs. A failed write
 * goes to `onError` and never throws; after an outage the key is written again as soon as the client reconnects
 * (a restarted Redis may have lost it), not only at the next beat.
 */
export function startWorkerHeartbeat(redis: Redis, queue: string, identity: string, onError: (err: Error) => void) {
  const key = `${WORKER_HEARTBEAT_PREFIX}${queue}:${identity}`;
  const startedAt = new Date().toISOString();
  let last = { cpu: process.cpuUsage(), at: process.hrtime.bigint() };
  const beat = async () => {
    const now = { cpu: process.cpuUsage(), at: process.hrtime.bigint() };
    const usedUs = now.cpu.user - last.cpu.user + now.cpu.system - last.cpu.system;
    const elapsedUs = Number(now.at - last.at) / 1_000;
    last = now;
    const cpuPct = elapsedUs > 0 ? Math.round((usedUs / elapsedUs) * 1_000) / 10 : 0;
    const value: WorkerHeartbeat = {
      queue, identity, pid: process.pid, host: os.hostname(), startedAt, at: new Date().toISOString(), cpuPct, rssBytes: process.memoryUsage.rss(), hostMemBytes: os.totalmem(),
    };
    await redis.set(key, JSON.stringify(value), 'EX', WORKER_HEARTBEAT_TTL_S).catch(onError);
  };
  const beatNow = () => void beat();
  beatNow();
  const timer = setInterval(beatNow, REFRESH_MS);
  timer.unref();
  redis.on('ready', beatNow);
  return {
    key,
    async stop(): Promise<void> {
      clearInterval(timer);
      redis.removeListener('ready', beatNow);
      await redis.del(key).catch(() => undefined);
    },
  };
}

/** Live workers by queue, read from their heartbeat keys. */
export async function listLiveWorkers(redis: Redis): Promise<WorkerHeartbeat[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${WORKER_HEARTBEAT_PREFIX}*`, 'COUNT', 200);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerHeartbeat);
}
