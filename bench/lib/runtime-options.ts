import { z } from 'zod';
import { EVALUATION_MODES } from '../../domain/deployment/spec';

/** Longest measured window: the replayed session has 60 bar closes after the data anchor (see replay-bars.ts). */
export const MAX_MEASURED_MINUTES = 50;

const intList = (what: string, max: number) =>
  z
    .string()
    .regex(/^\d+(,\d+)*$/, { error: `${what} must be a comma-separated list of whole numbers, e.g. 100,200,500` })
    .transform((s) => s.split(',').map(Number))
    .pipe(z.array(z.int().min(1, { error: `${what} values must be at least 1` }).max(max, { error: `${what} values must be at most ${max}` })).min(1));

const workerEnv = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]*=[^,]*(,[A-Z][A-Z0-9_]*=[^,]*)*$/, { error: 'worker-env must look like PG_POOL_MAX=8,ORDER_GATE_POOL_MAX=32' })
  .transform((s) => Object.fromEntries(s.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));

/** `npm run bench -- runtime [--n=100,500,2000] [--evaluation=batch] [--minutes=5] ...` (flags in --name=value form). */
export const RuntimeOptionsSchema = z.strictObject({
  /** deployment counts measured, in this order (the goals are at 500 and 2000) */
  n: intList('n', 2000).default([100, 500, 2000]),
  /** who evaluates each bar close (spec.evaluation of the deployments): one batch evaluator per group, or each deployment's own workflow */
  evaluation: z.enum(EVALUATION_MODES).default('batch'),
  /** measured bar closes per N (after one warm-up close) */
  minutes: z.coerce.number().int().min(1).max(MAX_MEASURED_MINUTES).default(5),
  /** deployments of the baseline run measured first with the same setup; 0 skips it */
  baseline: z.coerce.number().int().min(0).max(2000).default(10),
  /**
   * floor rounds of the per-deployment design (bench/runtime-floor-workflow.ts: a timer, one task, one audit row per
   * deployment and close) after the runtime round of the same N: at the goal's N (500, else the largest N below it,
   * else the smallest), at the largest N, at every N, or none
   */
  floor: z.enum(['goal', 'largest', 'all', 'none']).default('goal'),
  /** IO worker processes (the product runs one; more is an experiment) */
  ioWorkers: z.coerce.number().int().min(1).max(8).default(1),
  /** the deployments' settle delay after each bar close (the replayed bars are stored before they close, so 0) */
  settleMs: z.coerce.number().int().min(0).max(30_000).default(0),
  /** where cycles read recent bars: 'redis' pre-fills the cache as the market-data refresh keeps it; 'postgres' leaves it empty (fallback path) */
  barCache: z.enum(['redis', 'postgres']).default('redis'),
  /** deployments whose histories are read for the where-does-the-time-go breakdown */
  histories: z.coerce.number().int().min(0).max(2000).default(50),
  /** 'on' starts the dev server with its Prometheus metrics and reports its persistence requests and task matching per close (bench/lib/temporal-metrics.ts) */
  temporalMetrics: z.enum(['on', 'off']).default('off'),
  /** extra env for the worker processes (experiments only), e.g. PG_POOL_MAX=8 */
  workerEnv: workerEnv.default({}),
  /** a directory with pre-built io.js and cpu.js to run instead of bundling this checkout (experiments with a changed workflow) */
  workflowBundle: z.string().min(1).optional(),
  /**
   * 'on': the private Postgres runs pg_stat_statements (harness/stack/pg-stats.ts) and each round reports its top statements
   * over the measured closes (needs the private Postgres: not with DATABASE_URL set)
   */
  pgStats: z.enum(['on', 'off']).default('off'),
  /** a 1-minute bar file of the shared data folder (absolute, or relative to the repository) */
  data: z.string().min(1).default('../shared/data/2006-01-02-volume-min-001.txt'),
});
export type RuntimeOptions = z.output<typeof RuntimeOptionsSchema>;

/** Parses `--name=value` flags (kebab-case names) from argv; anything else is a benchmark name and ignored. */
export function parseRuntimeOptions(argv: readonly string[]): RuntimeOptions {
  const raw: Record<string, string> = {};
  for (const arg of argv) {
    const m = /^--([a-z][a-z-]*)=(.*)$/.exec(arg);
    if (m) raw[m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = m[2]!;
    else if (arg.startsWith('--')) throw new Error(`runtime bench: flags take the form --name=value, got "${arg}"`);
  }
  const parsed = RuntimeOptionsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(`runtime bench: ${parsed.error.issues.map((i) => `--${String(i.path[0] ?? '?')}: ${i.message}`).join('; ')}`);
}

/** The N the floor runs at: see `floor` above. */
export function floorDeployments(opts: Pick<RuntimeOptions, 'n' | 'floor'>, goalN: number): number[] {
  if (opts.floor === 'none') return [];
  if (opts.floor === 'all') return opts.n;
  if (opts.floor === 'largest') return [Math.max(...opts.n)];
  const atMost = opts.n.filter((n) => n <= goalN);
  return [atMost.length ? Math.max(...atMost) : Math.min(...opts.n)];
}
