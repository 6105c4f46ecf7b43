/**
 * pg_stat_statements for a benchmark (the runtime bench's `--pg-stats=on`): the private Postgres starts with it
 * (planning tracked too), the stats are reset after the warm-up close and the top statements of the measured closes
 * are read back, by execution + planning time. The view needs the extension in the run's database and a superuser to
 * reset it: the private stack trusts loopback connections, so the bench connects as its `postgres` user.
 */
import { Client } from 'pg';

/** postgresql.conf settings the private Postgres starts with when --pg-stats=on. */
export const PG_STATS_SETTINGS = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track_planning': 'on',
  'pg_stat_statements.max': 2000,
};

export interface StatementStats {
  query: string;
  calls: number;
  /** total execution + planning ms over the measured closes */
  totalMs: number;
  totalExecMs: number;
  totalPlanMs: number;
  /** how often it was planned (unnamed statements: every call; a named one: once per connection, then its plan is reused) */
  plans: number;
  meanExecMs: number;
  meanPlanMs: number;
  rows: number;
}

export interface PgStatsSummary {
  /** statements tracked in the run's database over the measured closes */
  statements: number;
  calls: number;
  totalExecMs: number;
  totalPlanMs: number;
  /**
   * connections opened to the run's database (pg_stat_database.sessions, this read's own included): a pool whose idle
   * timeout is shorter than the bar period opens its connections again at every close, each a new backend whose
   * caches start cold
   */
  sessions: number;
  top: StatementStats[];
}

/** The same database as the superuser of the private stack (trust auth on loopback). */
function superuserClient(databaseUrl: string): Client {
  const u = new URL(databaseUrl);
  u.username = 'postgres';
  u.password = '';
  return new Client({ connectionString: u.toString() });
}

async function asSuperuser<T>(databaseUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = superuserClient(databaseUrl);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function enablePgStats(databaseUrl: string): Promise<void> {
  return asSuperuser(databaseUrl, async (c) => void (await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')));
}

/** Forgets everything counted so far (the warm-up close, the set-up): statements on the whole server, the run database's counters. */
export function resetPgStats(databaseUrl: string): Promise<void> {
  return asSuperuser(databaseUrl, async (c) => void (await c.query('SELECT pg_stat_statements_reset(), pg_stat_reset()')));
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The run database's statements since the reset: totals and the `limit` costliest by execution + planning time. */
export function readPgStats(databaseUrl: string, limit = 25): Promise<PgStatsSummary> {
  return asSuperuser(databaseUrl, async (c) => {
    const { rows } = await c.query<{ query: string; calls: string; exec: number; plan: number; plans: string; rows: string }>(
      `SELECT query, calls, total_exec_time AS exec, total_plan_time AS plan, plans, rows
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       ORDER BY total_exec_time + total_plan_time DESC`,
    );
    const { rows: db } = await c.query<{ sessions: string }>('SELECT sessions FROM pg_stat_database WHERE datname = current_database()');
    const all = rows.map((r) => ({ query: r.query, calls: Number(r.calls), exec: r.exec, plan: r.plan, plans: Number(r.plans), rows: Number(r.rows) }));
    return {
      statements: all.length,
      calls: all.reduce((s, r) => s + r.calls, 0),
      totalExecMs: round(all.reduce((s, r) => s + r.exec, 0)),
      totalPlanMs: round(all.reduce((s, r) => s + r.plan, 0)),
      sessions: Number(db[0]?.sessions ?? 0),
      top: all.slice(0, limit).map((r) => ({
        query: r.query.replace(/\s+/g, ' ').slice(0, 400),
        calls: r.calls,
        totalMs: round(r.exec + r.plan),
        totalExecMs: round(r.exec),
        totalPlanMs: round(r.plan),
        plans: r.plans,
        meanExecMs: round(r.calls ? r.exec / r.calls : 0),
        meanPlanMs: round(r.plans ? r.plan / r.plans : 0),
        rows: r.rows,
      })),
    };
  });
}

/**
 * A few lines for the console: totals, then the top statements per measured close. Execution time includes waiting
 * for locks (a row lock that serialises an account's orders ranks first while costing little CPU).
 */
export function pgStatsLines(s: PgStatsSummary, closes: number, show = 15): string[] {
  const perClose = (x: number) => (x / closes).toFixed(1);
  return [
    `pg_stat_statements over ${closes} measured closes: ${s.statements} statements, ${perClose(s.calls)} calls, exec ${perClose(s.totalExecMs)} ms (lock waits included), plan ${perClose(s.totalPlanMs)} ms per close; ${perClose(s.sessions)} connections opened per close`,
    ...s.top.slice(0, show).map(
      (t) =>
        `  ${perClose(t.totalMs).padStart(7)} ms/close  ${perClose(t.calls).padStart(6)} calls  exec ${t.meanExecMs} plan ${t.meanPlanMs} ms (${t.plans} plans) rows ${t.rows}  ${t.query.slice(0, 140)}`,
    ),
  ];
}
