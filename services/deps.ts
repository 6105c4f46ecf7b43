import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { InflightCalls } from './temporal-call';

/** What the services log to (pino's shape): the API passes the request's logger, so lines carry its request id. */
export interface ServiceLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * What every service talks to: Postgres and Temporal. The API adds its tracker of calls in flight (closing the app
 * waits for them) and the request's logger; tools (bench, chaos, scripts, tests) pass neither.
 */
export interface ServiceDeps {
  db: Pool;
  temporal: Client;
  inflight?: InflightCalls;
  log?: ServiceLog;
}

const SILENT: ServiceLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export const logOf = (deps: Pick<ServiceDeps, 'log'>): ServiceLog => deps.log ?? SILENT;
