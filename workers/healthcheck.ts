import os from 'node:os';
import { Redis } from 'ioredis';
import { WORKER_HEARTBEAT_PREFIX } from '../platform/heartbeat';

/** Container healthcheck: exits 0 when a worker of this queue on this host has a live heartbeat key. */
async function main(): Promise<number> {
  const queue = process.argv[2];
  if (!queue || !process.env.REDIS_URL) {
    console.error('usage: REDIS_URL=... tsx workers/healthcheck.ts <cpu|io>');
    return 2;
  }
  const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  try {
    await redis.connect();
    const [, keys] = await redis.scan('0', 'MATCH', `${WORKER_HEARTBEAT_PREFIX}${queue}:*@${os.hostname()}`, 'COUNT', 1000);
    return keys.length > 0 ? 0 : 1;
  } finally {
    redis.disconnect();
  }
}

main().then((code) => process.exit(code), () => process.exit(1));
