import type { Pool, PoolClient } from 'pg';

/**
 * Calls `seen` with the text of every statement the pool's clients send (pool.query goes through a client too), for
 * benchmarks and tests that count or record round trips. Each client is patched as it connects.
 */
export function onEachStatement(pool: Pool, seen: (text: string) => void): Pool {
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      seen(String((typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text) ?? ''));
      return query(...args);
    };
  });
  return pool;
}
