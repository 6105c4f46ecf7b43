import { prepared, type Queryable } from './queryable';

/**
 * Symbol locks: one holder (a deployment) per (account, symbol), because brokers net positions per symbol per account
 * and one deployment's close would close another's position. A lease: taken before an entry, renewed while held,
 * released when the holder is flat; a holder that is gone (its row stopped or failed, or no row) or whose lease lapsed
 * loses it to the next taker.
 */
export interface SymbolLock {
  accountId: string;
  symbol: string;
  holder: string;
  acquiredAt: Date;
  expiresAt: Date;
}

/** symbol_locks as pg returns it. */
interface SymbolLockRow {
  account_id: string;
  symbol: string;
  holder: string;
  acquired_at: Date;
  expires_at: Date;
}

function symbolLockRowToLock(r: SymbolLockRow): SymbolLock {
  return { accountId: r.account_id, symbol: r.symbol, holder: r.holder, acquiredAt: r.acquired_at, expiresAt: r.expires_at };
}

/**
 * Takes (or renews) the lock in one statement: inserted when free; taken over when this holder has it already, its
 * lease lapsed, or its holder is gone. The primary key serializes concurrent takers, so there is never a second
 * holder. Returns the holder after the statement: `holder` itself when taken, else whoever has it.
 */
export async function acquireSymbolLock(db: Queryable, l: { accountId: string; symbol: string; holder: string; ttlMs: number }): Promise<{ taken: boolean; holder: string }> {
  const { rows } = await db.query<{ holder: string; taken: boolean }>(ACQUIRE, [l.accountId, l.symbol, l.holder, l.ttlMs]);
  // No row: a concurrent taker's insert committed after this statement's snapshot (or the holder released it); the caller may try again.
  return rows[0] ?? { holder: '', taken: false };
}

/** acquireSymbolLock's statement, named: every entry order runs it (see PreparedStatement). */
const ACQUIRE = prepared(
  'symbol-locks-acquire',
  `WITH taken AS (
       INSERT INTO symbol_locks AS s (account_id, symbol, holder, expires_at) VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4::float8 / 1000))
       ON CONFLICT (account_id, symbol) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
         acquired_at = CASE WHEN s.holder = EXCLUDED.holder THEN s.acquired_at ELSE clock_timestamp() END
       WHERE s.holder = EXCLUDED.holder OR s.expires_at < clock_timestamp()
          OR NOT EXISTS (SELECT 1 FROM deployments d WHERE d.id = s.holder AND d.status NOT IN ('stopped', 'failed'))
       RETURNING holder)
     SELECT holder::text, true AS taken FROM taken
     UNION ALL SELECT holder::text, false FROM symbol_locks WHERE account_id = $1 AND symbol = $2 AND NOT EXISTS (SELECT 1 FROM taken)`,
);

/** Extends this holder's leases on these symbols. */
export async function renewSymbolLocks(db: Queryable, accountId: string, holder: string, symbols: string[], ttlMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE symbol_locks SET expires_at = clock_timestamp() + make_interval(secs => $4::float8 / 1000) WHERE account_id = $1 AND holder = $2 AND symbol = ANY($3::text[])`,
    [accountId, holder, symbols, ttlMs],
  );
  return rowCount ?? 0;
}

/** Releases the locks these holders have on an account, except on the symbols given (still held at the broker). */
export async function releaseLocksExcept(db: Queryable, accountId: string, holders: string[] | null, keep: string[]): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM symbol_locks WHERE account_id = $1 AND ($2::uuid[] IS NULL OR holder = ANY($2::uuid[])) AND NOT (symbol = ANY($3::text[]))',
    [accountId, holders, keep],
  );
  return rowCount ?? 0;
}

/** Extends each holder's leases on its symbols, for many holders in one statement (renewSymbolLocks for many). */
export async function renewSymbolLocksOfMany(db: Queryable, held: ReadonlyArray<{ accountId: string; holder: string; symbol: string }>, ttlMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE symbol_locks s SET expires_at = clock_timestamp() + make_interval(secs => $4::float8 / 1000)
     FROM unnest($1::text[], $2::uuid[], $3::text[]) AS k (account_id, holder, symbol)
     WHERE s.account_id = k.account_id AND s.holder = k.holder AND s.symbol = k.symbol`,
    [held.map((k) => k.accountId), held.map((k) => k.holder), held.map((k) => k.symbol), ttlMs],
  );
  return rowCount ?? 0;
}

/** Releases the locks each holder has on its account, except on the symbols it keeps (releaseLocksExcept for many holders). */
export async function releaseLocksOfManyExcept(
  db: Queryable,
  holders: ReadonlyArray<{ accountId: string; holder: string }>,
  keep: ReadonlyArray<{ accountId: string; holder: string; symbol: string }>,
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM symbol_locks s USING unnest($1::text[], $2::uuid[]) AS h (account_id, holder)
     WHERE s.account_id = h.account_id AND s.holder = h.holder
       AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::uuid[], $5::text[]) AS k (account_id, holder, symbol) WHERE k.account_id = s.account_id AND k.holder = s.holder AND k.symbol = s.symbol)`,
    [holders.map((h) => h.accountId), holders.map((h) => h.holder), keep.map((k) => k.accountId), keep.map((k) => k.holder), keep.map((k) => k.symbol)],
  );
  return rowCount ?? 0;
}

export async function listSymbolLocks(db: Queryable, accountId: string): Promise<SymbolLock[]> {
  const { rows } = await db.query<SymbolLockRow & Record<string, unknown>>('SELECT * FROM symbol_locks WHERE account_id = $1 ORDER BY symbol', [accountId]);
  return rows.map(symbolLockRowToLock);
}
