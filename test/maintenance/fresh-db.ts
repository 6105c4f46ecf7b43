import { Pool } from 'pg';
import { createDatabase, dropDatabase, migrateInChild } from '../../harness/stack';
import { testStack } from '../helpers/stack';

export interface FreshDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/**
 * A database of its own on the test server: the maintenance sweeps act on every row of their database, so a test
 * that runs them must not see the rows of other test files. `migrated: false` leaves it empty (a restore target).
 */
export async function freshDatabase(prefix: string, migrated = true): Promise<FreshDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
  const adminUrl = testStack().DATABASE_URL;
  const url = await createDatabase(adminUrl, name);
  if (migrated) await migrateInChild(url, testStack().REDIS_URL);
  const pool = new Pool({ connectionString: url, max: 4 });
  return {
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      await dropDatabase(adminUrl, name);
    },
  };
}
