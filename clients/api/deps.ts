import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Config } from '../../platform/config';
import type { AppLogger } from '../../platform/logger';

/**
 * Everything the HTTP API talks to; tests pass real ones and call `app.inject()`. A file of its own: app.ts imports
 * every route and every route needs this type, which closed an import cycle through app.ts.
 */
export interface ApiDeps {
  config: Config;
  db: Pool;
  redis: Redis;
  temporal: Client;
  logger: AppLogger;
}
