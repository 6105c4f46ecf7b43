/**
 * A hot statement of constant text under a name: each connection parses and plans it once and then only binds and
 * executes it, where an unnamed statement (pg's default) is parsed and planned again on every call. After five
 * executions Postgres keeps a generic plan when it costs no more than the custom ones, so name only statements whose
 * plan does not depend on the values (a key lookup, not a filter whose best plan changes with the value). A name
 * stands for one text: pg refuses the same name with another text on a connection.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

/** A PreparedStatement; the name is the text's handle on every connection, so keep it unique in the code base. */
export const prepared = (name: string, text: string): PreparedStatement => Object.freeze({ name, text });

/** The text of a statement, named or not (for wrappers that log or count what is sent). */
export const statementText = (s: string | PreparedStatement): string => (typeof s === 'string' ? s : s.text);

/** The subset of pg's Pool / PoolClient the SQL functions use, so any of them (or a transaction) can be passed. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    statement: string | PreparedStatement,
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
