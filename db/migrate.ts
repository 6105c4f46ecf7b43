import path from 'node:path';
import { loadConfig } from '../platform/config';

/** Applies pending migrations from db/migrations (node-pg-migrate); safe to run on every start. */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<string[]> {
  // node-pg-migrate is ESM-only; a dynamic import keeps this module loadable from CommonJS.
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: path.join(__dirname, 'migrations'),
    migrationsTable: 'pgmigrations',
    direction: 'up',
    count: Infinity,
    checkOrder: true,
    singleTransaction: true,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}

if (require.main === module) {
  const config = loadConfig();
  migrate(config.DATABASE_URL, (m) => console.log(m))
    .then((names) => console.log(names.length ? `applied ${names.join(', ')}` : 'database is up to date'))
    .catch((err: unknown) => {
      console.error(`migration failed: ${(err as Error).message}`);
      process.exit(1);
    });
}
