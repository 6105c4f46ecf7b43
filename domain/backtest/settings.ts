import { z } from 'zod';
import { DEFAULT_SIZING, INTRABAR_POLICIES, STRATEGY_NAMES, type BacktestSettings, type StrategyName } from './types';

/**
 * Strategy parameters: one strict zod schema per strategy. Defaults are filled in; unknown names, non-integers
 * where a bar count is expected and inconsistent combinations are errors at path ['params', name].
 */
const period = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be a whole number of bars` })
    .min(1, { error: `${what} must be at least 1` })
    .max(100_000, { error: `${what} must be at most 100000` });

const level = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .gt(0, { error: `${what} must be > 0` })
    .lt(100, { error: `${what} must be < 100` });

const SmaCrossParams = z
  .strictObject({
    period: period('period').optional(),
    fast: period('fast').optional(),
    slow: period('slow').optional(),
  })
  .superRefine((p, ctx) => {
    if (p.period !== undefined && (p.fast !== undefined || p.slow !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [p.fast !== undefined ? 'fast' : 'slow'],
        message: 'give either period (close vs its SMA) or fast and slow (fast SMA vs slow SMA), not both',
      });
    }
  })
  .transform((p): { period: number } | { fast: number; slow: number } =>
    p.period !== undefined ? { period: p.period } : { fast: p.fast ?? 10, slow: p.slow ?? 30 },
  )
  .superRefine((p, ctx) => {
    if ('fast' in p && p.fast >= p.slow) {
      ctx.addIssue({ code: 'custom', path: ['fast'], message: `fast (${p.fast}) must be smaller than slow (${p.slow})` });
    }
  });

const RsiReversionParams = z
  .strictObject({
    period: period('period').default(14),
    oversold: level('oversold').default(30),
    overbought: level('overbought').default(70),
    exit: level('exit').default(50),
  })
  .superRefine((p, ctx) => {
    if (p.oversold >= p.overbought) {
      ctx.addIssue({ code: 'custom', path: ['oversold'], message: `oversold (${p.oversold}) must be below overbought (${p.overbought})` });
    }
    if (p.exit < p.oversold || p.exit > p.overbought) {
      ctx.addIssue({
        code: 'custom',
        path: ['exit'],
        message: `exit (${p.exit}) must lie between oversold (${p.oversold}) and overbought (${p.overbought})`,
      });
    }
  });

const DonchianParams = z.strictObject({
  entry: period('entry').default(20),
  exit: period('exit').default(10),
  atrPeriod: period('atrPeriod').default(14),
  /** ATR multiple of the protective stop; 0 disables the stop */
  atrStop: z
    .number({ error: 'atrStop must be a number' })
    .min(0, { error: 'atrStop must be >= 0 (0 disables the ATR stop)' })
    .max(100, { error: 'atrStop must be at most 100' })
    .default(2),
});

export const STRATEGY_PARAM_SCHEMAS = {
  'sma-cross': SmaCrossParams,
  'rsi-reversion': RsiReversionParams,
  'donchian-breakout': DonchianParams,
} as const;

export type SmaCrossParams = z.output<typeof SmaCrossParams>;
export type RsiReversionParams = z.output<typeof RsiReversionParams>;
export type DonchianParams = z.output<typeof DonchianParams>;
export interface StrategyParamsByName {
  'sma-cross': SmaCrossParams;
  'rsi-reversion': RsiReversionParams;
  'donchian-breakout': DonchianParams;
}

/** The parameters each strategy accepts (for messages and API docs). */
export const STRATEGY_PARAM_NAMES: Record<StrategyName, readonly string[]> = {
  'sma-cross': ['period', 'fast', 'slow'],
  'rsi-reversion': ['period', 'oversold', 'overbought', 'exit'],
  'donchian-breakout': ['entry', 'exit', 'atrPeriod', 'atrStop'],
};

function paramIssues(strategy: StrategyName, params: unknown): { value?: Record<string, number>; issues: z.core.$ZodIssue[] } {
  const schema = STRATEGY_PARAM_SCHEMAS[strategy] as z.ZodType<Record<string, number>>;
  const parsed = schema.safeParse(params ?? {});
  if (parsed.success) return { value: parsed.data, issues: [] };
  const issues: z.core.$ZodIssue[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // report each unknown name at ['params', name] rather than one issue at ['params']
      for (const key of issue.keys) {
        issues.push({
          code: 'custom',
          path: ['params', key],
          message: `unknown parameter "${key}" for strategy ${strategy}; expected one of: ${STRATEGY_PARAM_NAMES[strategy].join(', ')}`,
          input: (params as Record<string, unknown>)[key],
        });
      }
    } else {
      issues.push({ ...issue, path: ['params', ...issue.path] } as z.core.$ZodIssue);
    }
  }
  return { issues };
}

/**
 * Validates and normalizes a strategy's parameters (defaults filled in). Throws a ZodError whose issues have
 * paths ['params', name].
 */
export function validateStrategyParams<S extends StrategyName>(strategy: S, params: unknown): StrategyParamsByName[S];
export function validateStrategyParams(strategy: StrategyName, params: unknown): Record<string, number>;
export function validateStrategyParams(strategy: StrategyName, params: unknown): Record<string, number> {
  if (!(STRATEGY_NAMES as readonly string[]).includes(strategy)) {
    throw new z.ZodError([
      { code: 'custom', path: ['strategy'], message: `unknown strategy "${String(strategy)}"; expected one of: ${STRATEGY_NAMES.join(', ')}`, input: strategy },
    ]);
  }
  const { value, issues } = paramIssues(strategy, params);
  if (value === undefined) throw new z.ZodError(issues);
  return value;
}

const positiveMoney = (what: string) =>
  z.number({ error: `${what} must be a number` }).positive({ error: `${what} must be > 0` }).max(1e15, { error: `${what} is too large` });
const nonNegative = (what: string, max: number) =>
  z.number({ error: `${what} must be a number` }).min(0, { error: `${what} must be >= 0` }).max(max, { error: `${what} must be at most ${max}` });

export const SizingSchema = z
  .discriminatedUnion(
    'mode',
    [
      z.strictObject({
        mode: z.literal('equity-fraction'),
        fraction: z
          .number({ error: 'sizing.fraction must be a number' })
          .gt(0, { error: 'sizing.fraction must be > 0' })
          .max(1, { error: 'sizing.fraction must be at most 1 (no leverage)' }),
      }),
      z.strictObject({ mode: z.literal('fixed-quantity'), quantity: positiveMoney('sizing.quantity') }),
    ],
    { error: 'sizing.mode must be equity-fraction or fixed-quantity' },
  )
  .describe(`shares per entry; default ${JSON.stringify(DEFAULT_SIZING)}: whole shares worth that fraction of equity at the fill`);

/** The settings object as given by a user, with defaults; strategy params are checked by BacktestSettingsSchema. */
export const BacktestSettingsInputSchema = z.strictObject({
  strategy: z.enum(STRATEGY_NAMES, { error: `strategy must be one of: ${STRATEGY_NAMES.join(', ')}` }),
  params: z
    .record(z.string(), z.union([z.number(), z.boolean()]), { error: 'params must be an object of numbers or booleans' })
    .default({}),
  initialCash: positiveMoney('initialCash').default(10_000),
  /** shorthand for sizing { mode: 'fixed-quantity', quantity } (the CLI's --size) */
  quantity: positiveMoney('quantity').optional().describe('fixed quantity per entry (shorthand for sizing fixed-quantity); give it or sizing, not both'),
  sizing: SizingSchema.optional(),
  commissionPerOrder: nonNegative('commissionPerOrder', 1e9).default(0),
  commissionRate: nonNegative('commissionRate (a fraction of notional, 0.001 = 0.1 %)', 0.5).default(0),
  slippageBps: nonNegative('slippageBps', 5_000).default(0),
  allowShort: z.boolean({ error: 'allowShort must be true or false' }).default(false),
  takeProfitPct: z
    .number({ error: 'takeProfitPct must be a number' })
    .positive({ error: 'takeProfitPct must be > 0 (a fraction: 0.02 = 2 %)' })
    .max(100, { error: 'takeProfitPct must be at most 100 (a fraction: 0.02 = 2 %)' })
    .optional(),
  stopLossPct: z
    .number({ error: 'stopLossPct must be a number' })
    .positive({ error: 'stopLossPct must be > 0 (a fraction: 0.02 = 2 %)' })
    .lt(1, { error: 'stopLossPct must be < 1 (a fraction: 0.02 = 2 %)' })
    .optional(),
  trailingStopPct: z
    .number({ error: 'trailingStopPct must be a number' })
    .positive({ error: 'trailingStopPct must be > 0 (a fraction: 0.02 = 2 %)' })
    .lt(1, { error: 'trailingStopPct must be < 1 (a fraction: 0.02 = 2 %)' })
    .optional(),
  intrabarPolicy: z.enum(INTRABAR_POLICIES, { error: `intrabarPolicy must be one of: ${INTRABAR_POLICIES.join(', ')}` }).default('direction'),
});

/** Parses user input into complete BacktestSettings: defaults, bounds, and normalized strategy params. */
export const BacktestSettingsSchema: z.ZodType<BacktestSettings, z.input<typeof BacktestSettingsInputSchema>> =
  BacktestSettingsInputSchema.transform((s, ctx) => {
    const { value, issues } = paramIssues(s.strategy, s.params);
    if (value === undefined) {
      for (const issue of issues) ctx.issues.push({ ...issue, input: issue.input } as never);
      return z.NEVER;
    }
    if (s.quantity !== undefined && s.sizing !== undefined) {
      ctx.issues.push({ code: 'custom', path: ['quantity'], message: 'give quantity (a fixed quantity) or sizing, not both', input: s.quantity });
      return z.NEVER;
    }
    const { quantity, sizing, ...rest } = s;
    const out: BacktestSettings = {
      ...rest,
      params: value,
      sizing: quantity !== undefined ? { mode: 'fixed-quantity', quantity } : (sizing ?? { ...DEFAULT_SIZING }),
    };
    if (out.takeProfitPct === undefined) delete out.takeProfitPct;
    if (out.stopLossPct === undefined) delete out.stopLossPct;
    if (out.trailingStopPct === undefined) delete out.trailingStopPct;
    return out;
  });

export function parseBacktestSettings(input: unknown): BacktestSettings {
  return BacktestSettingsSchema.parse(input);
}
