/** The subset of pg's Pool / PoolClient the SQL functions use, so any of them (or a transaction) can be passed. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** The subset of pg's Pool that can hand out a dedicated client for a transaction. */
export interface ConnectionPool extends Queryable {
  connect(): Promise<Queryable & { release(err?: Error | boolean): void }>;
}

/** Runs `fn` in one transaction on a dedicated client; rolls back on any error. */
export async function inTransaction<T>(pool: ConnectionPool, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
