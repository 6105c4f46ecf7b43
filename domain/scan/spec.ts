import { z } from 'zod';
import { BacktestSettingsInputSchema } from '../backtest/settings';
import { ScanSpecError } from './errors';
import { OBJECTIVES } from './objective';

/**
 * A stress-scan request, everything but the bars (those are named by the caller: a CSV, or symbol, timeframe
 * and dates). Plain JSON, so a workflow can carry it and an activity can rebuild every cell from it.
 */
export const SCAN_TYPES = ['param_scan', 'optimization', 'monte_carlo', 'black_swan'] as const;
export const MC_METHODS = ['shuffle', 'bootstrap', 'block-bootstrap'] as const;

const int = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number` })
    .min(min, { error: `${what} must be at least ${min}` })
    .max(max, { error: `${what} must be at most ${max}` });
const num = (what: string) => z.number({ error: `${what} must be a number` });

const AxisSchema = z.union(
  [
    z.array(num('a grid value'), { error: 'a list of numbers' }).max(1_000_000, { error: 'at most 1,000,000 values in a list' }),
    z.strictObject({ from: num('from'), to: num('to'), step: num('step') }),
  ],
  { error: 'each grid parameter is a list of numbers or {"from":5,"to":44,"step":1}' },
);

const SeedSchema = int('seed', 0, 2 ** 32 - 1);

export const WalkForwardSchema = z.strictObject({
  trainBars: int('trainBars', 1, 100_000_000),
  testBars: int('testBars', 1, 100_000_000),
  /** default testBars */
  stepBars: int('stepBars', 1, 100_000_000).optional(),
  anchored: z.boolean({ error: 'anchored must be true or false' }).default(false),
  /** bars read before each window for indicators only; default the strategy's warm-up; 0 allowed */
  warmupBars: int('warmupBars', 0, 100_000_000).optional(),
});
export type WalkForwardSpec = z.output<typeof WalkForwardSchema>;

const BarRef = z.union([int('a bar index', 0, 1e9), z.string().regex(/^\d{4}-\d{2}-\d{2}/, { error: 'a date (2008-10-01) or an ISO time' })], {
  error: 'a bar index or a date (2008-10-01)',
});
export const ShockSchema = z.discriminatedUnion(
  'kind',
  [
    /** every price from bar `at` on is (1 - pct) of what it was: a gap down of pct at that bar's open */
    z.strictObject({ kind: z.literal('gap'), pct: num('pct').gt(0, { error: 'pct must be > 0 (0.2 = a 20 % gap)' }).lt(1, { error: 'pct must be < 1' }), at: BarRef }),
    /** bar-to-bar moves in [from, to] scaled by factor (prices after it follow from the new level) */
    z.strictObject({ kind: z.literal('volatility'), factor: num('factor').gt(0).max(100), from: BarRef, to: BarRef }),
    /** the configured slippage times factor on every fill */
    z.strictObject({ kind: z.literal('slippage'), factor: num('factor').gt(0).max(1000) }),
  ],
  { error: 'a shock is {"kind":"gap","pct":0.2,"at":"2008-10-01"}, {"kind":"volatility","factor":3,"from":..,"to":..} or {"kind":"slippage","factor":5}' },
);
export type Shock = z.output<typeof ShockSchema>;

export const ScanSpecSchema = z.strictObject({
  type: z.enum(SCAN_TYPES, { error: `type must be one of: ${SCAN_TYPES.join(', ')}` }).default('param_scan'),
  /** the backtest settings; settings.params are the base every cell starts from */
  settings: BacktestSettingsInputSchema,
  grid: z.record(z.string(), AxisSchema).default({}),
  constraints: z.array(z.string({ error: 'a constraint is a string such as "fast < slow"' })).max(20).default([]),
  sampler: z
    .discriminatedUnion('kind', [z.strictObject({ kind: z.literal('grid') }), z.strictObject({ kind: z.literal('random'), samples: int('samples', 1, 10_000_000), seed: SeedSchema })], {
      error: 'sampler is {"kind":"grid"} or {"kind":"random","samples":200,"seed":1}',
    })
    .default({ kind: 'grid' }),
  objective: z.enum(OBJECTIVES, { error: `objective must be one of: ${OBJECTIVES.join(', ')}` }).default('net-profit'),
  /** cells whose max drawdown exceeds this fraction rank after every other cell */
  maxDrawdown: num('maxDrawdown').gt(0, { error: 'maxDrawdown is a fraction > 0 (0.25 = 25 %)' }).max(1).optional(),
  walkForward: WalkForwardSchema.optional(),
  monteCarlo: z
    .strictObject({
      paths: int('paths', 1, 1_000_000).default(1000),
      seed: SeedSchema.default(1),
      /** report the probability of losing more than this fraction of the initial cash */
      lossThreshold: num('lossThreshold').gt(0).max(1).default(0.1),
      methods: z.array(z.enum(MC_METHODS, { error: `methods: ${MC_METHODS.join(', ')}` })).min(1).default([...MC_METHODS]),
      /** block length of the bar bootstrap */
      blockBars: int('blockBars', 1, 1_000_000).default(20),
    })
    .default({ paths: 1000, seed: 1, lossThreshold: 0.1, methods: [...MC_METHODS], blockBars: 20 }),
  blackSwan: z
    .strictObject({
      /** names of crisis windows (domain/scan/crises.ts) or "all" */
      crises: z.union([z.literal('all'), z.array(z.string())]).default('all'),
      /** synthetic shocks; default a 10 % gap at the middle bar and volatility x3 over the middle tenth */
      shocks: z.array(ShockSchema).max(50).optional(),
    })
    .default({ crises: 'all' }),
  /** the largest grid accepted */
  maxCells: int('maxCells', 1, 10_000_000).default(100_000),
});
export type ScanSpec = z.output<typeof ScanSpecSchema>;

/** Parses a request; a ScanSpecError (with zod's paths and messages) when it is malformed. */
export function parseScanSpec(input: unknown): ScanSpec {
  const parsed = ScanSpecSchema.safeParse(input);
  if (!parsed.success) throw new ScanSpecError(parsed.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message })));
  const spec = parsed.data;
  const issues: Array<{ path: string[]; message: string }> = [];
  const scans = spec.type === 'param_scan' || spec.type === 'optimization';
  if (scans && Object.keys(spec.grid).length === 0) issues.push({ path: ['grid'], message: `${spec.type} needs a grid, e.g. {"period":[5,6,7]} or {"period":{"from":5,"to":44,"step":1}}` });
  if (!scans && Object.keys(spec.grid).length > 0) issues.push({ path: ['grid'], message: `${spec.type} runs settings.params; a grid belongs to param_scan or optimization` });
  if (spec.type === 'param_scan' && spec.sampler.kind !== 'grid') issues.push({ path: ['sampler'], message: 'param_scan runs the whole grid; random search is type optimization' });
  if (spec.type !== 'optimization' && spec.walkForward) issues.push({ path: ['walkForward'], message: 'walk-forward is part of type optimization' });
  if (issues.length) throw new ScanSpecError(issues);
  return spec;
}
