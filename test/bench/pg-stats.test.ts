/**
 * The runtime bench's --pg-stats=on (harness/stack/pg-stats.ts) on a real private Postgres started with its
 * settings, and what it is there to show: a named statement (db/sql/queryable.ts `prepared`) is planned a few times
 * per connection, the same lookup unnamed at every call.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { enablePgStats, PG_STATS_SETTINGS, readPgStats, resetPgStats } from '../../harness/stack/pg-stats';
import { prepared } from '../../db/sql/queryable';
import { createDatabase, startPostgres, type ManagedService } from '../../harness/stack';

jest.setTimeout(120_000);

let dir: string;
let pg: ManagedService | undefined;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-stats-test-'));
  fs.chmodSync(dir, 0o755); // the postgres user must be able to enter it
});

afterAll(async () => {
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('after a reset, the top statements show calls, rows and plans: a named lookup planned at most 6 times in 30 calls, an unnamed one 30', async () => {
  pg = await startPostgres({ dataDir: path.join(dir, 'pg'), logFile: path.join(dir, 'pg.log'), settings: PG_STATS_SETTINGS });
  const url = await createDatabase(pg.url, 'pgstats');
  await enablePgStats(url);
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 1000) g');
    await c.query('SELECT count(*) FROM t WHERE v > $1', ['5']); // before the reset: not counted
    await resetPgStats(url);
    const named = prepared('test-lookup', 'SELECT v FROM t WHERE id = $1');
    for (let i = 1; i <= 30; i++) {
      await c.query(named, [i]);
      await c.query('SELECT v, id FROM t WHERE id = $1', [i]);
    }
  } finally {
    await c.end();
  }
  const stats = await readPgStats(url);
  const of = (text: string) => stats.top.find((s) => s.query === text);
  // five custom plans, then a generic one kept (its cost is no worse for a key lookup)
  expect(of('SELECT v FROM t WHERE id = $1')).toMatchObject({ calls: 30, rows: 30, plans: expect.any(Number) });
  expect(of('SELECT v FROM t WHERE id = $1')!.plans).toBeLessThanOrEqual(6);
  expect(of('SELECT v, id FROM t WHERE id = $1')).toMatchObject({ calls: 30, rows: 30, plans: 30 });
  expect(stats.top.some((s) => s.query.includes('count(*)'))).toBe(false);
  expect(stats.totalPlanMs).toBeGreaterThan(0);
  expect(stats.sessions).toBeGreaterThanOrEqual(1);
});
