import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

export interface TemporalTarget {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
}

/** A Temporal client for the configured namespace; the caller closes `connection`. */
export async function connectTemporal(target: TemporalTarget): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: target.TEMPORAL_ADDRESS, connectTimeout: '10 seconds' });
  const client = new Client({ connection, namespace: target.TEMPORAL_NAMESPACE });
  return { client, connection };
}

/**
 * Registers our search attributes if the server lacks them (idempotent; the dev server and auto-setup both start
 * without them). The time-skipping test server cannot list them: there every one is added, and one it has is fine.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace }).catch((err: { code?: number }) => {
    if (err.code === GRPC_UNIMPLEMENTED) return undefined;
    throw err;
  });
  const known = new Set(Object.keys(existing?.customAttributes ?? {}));
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((k) => !known.has(k.name));
  if (missing.length === 0) return;
  await connection.operatorService
    .addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    })
    .catch((err: { code?: number }) => {
      if (!(existing === undefined && err.code === GRPC_ALREADY_EXISTS)) throw err;
    });
}

const GRPC_ALREADY_EXISTS = 6;
const GRPC_UNIMPLEMENTED = 12;
