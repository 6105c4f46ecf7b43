import { rmSync } from 'node:fs';
import { Client } from 'pg';
import type { Service } from '../../harness/stack';
import { STACK_FILE } from './stack';

/** Drops this run's database and stops the servers global-setup started. */
export default async function globalTeardown(): Promise<void> {
  const g = globalThis as { __testServices?: Service[]; __testDatabase?: { adminUrl: string; name: string } };
  if (g.__testDatabase && !process.env.KEEP_TEST_DB) {
    const admin = new Client({ connectionString: g.__testDatabase.adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${g.__testDatabase.name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  await Promise.allSettled((g.__testServices ?? []).map((s) => s.stop()));
  rmSync(STACK_FILE, { force: true });
}
