import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { createRedis } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import type { Config } from '../../platform/config';
import { columnsToBars, type Bar } from '../../marketdata/port';
import { syntheticBars } from '../helpers/db';

/** n valid bars of length stepMs from startMs (a seeded random walk). */
export function bars(n: number, startMs: number, stepMs: number, seed = 7): Bar[] {
  const cols = syntheticBars(n, seed, stepMs);
  const shift = startMs - cols.ts[0];
  return columnsToBars(cols).map((b) => ({ ...b, ts: b.ts + shift }));
}

/** A TCP port nothing listens on. */
export async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A Redis client built exactly as the workers build theirs (platform/deps.ts createRedis), pointed at `url`. */
export function failFastRedis(url: string): Redis {
  return createRedis({ REDIS_URL: url } as Config, createLogger('silent'));
}

/** A logger that keeps what it is given (for MockActivityEnvironment). */
export function memoryLogger() {
  const entries: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => void entries.push({ level, message, meta });
  return { entries, logger: { log: (level: string, message: string, meta?: Record<string, unknown>) => void entries.push({ level, message, meta }), trace: at('TRACE'), debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') } };
}
