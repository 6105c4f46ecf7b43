import { z } from 'zod';
import { MAX_BAR_WAIT_MS } from './bar-wait';
import { validateStrategyParams } from '../backtest/settings';
import { STRATEGY_NAMES } from '../backtest/types';
import { CALENDAR_IDS } from '../calendar/calendar';
import { EodPolicySchema } from '../eod/policy';
import { RiskLimitsSchema } from '../risk/limits';
import { ExitRulesSchema } from './exits';
import { MAX_SCANNER_UNIVERSE, ScannerSpecSchema } from './scanner-spec';

/** Symbols a plain deployment trades at most (a scanner's universe: MAX_SCANNER_UNIVERSE). */
export const MAX_DEPLOYMENT_SYMBOLS = 20;

/** Timeframes a deployment can trade on (bar closes come from the exchange calendar). */
export const DEPLOYMENT_TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '1d'] as const;

export const BROKERS = ['paper', 'alpaca'] as const;

/**
 * cancel-and-replace: a partial fill still working at the next cycle is cancelled and its remainder re-sent;
 * top-up: it keeps working, and a remainder the broker leaves unfilled (expired, cancelled) is re-sent.
 */
export const PARTIAL_FILL_POLICIES = ['cancel-and-replace', 'top-up'] as const;

export const EVALUATION_MODES = ['deployment', 'batch'] as const;

export const SYMBOL_PATTERN = /^[A-Z0-9._-]{1,32}$/;

const positive = (what: string) =>
  z.number({ error: `${what} must be a number` }).positive({ error: `${what} must be > 0` }).max(1e15, { error: `${what} is too large` });

const approvalsNeeded = z
  .int({ error: 'approvals must be a whole number' })
  .min(1, { error: 'approvals must be at least 1' })
  .max(5, { error: 'approvals must be at most 5' });

/** Settings every approval mode shares: how long a request waits, and how far the price may move before the order. */
const approvalTiming = {
  /** a request nobody decided within this time expires and never trades */
  expiresAfterMs: z
    .int({ error: 'expiresAfterMs must be a whole number of ms' })
    .min(10_000, { error: 'expiresAfterMs must be at least 10000 (10 s)' })
    .max(86_400_000, { error: 'expiresAfterMs must be at most 86400000 (1 day)' })
    .default(300_000),
  /** after approval, the order goes out only if the price moved at most this fraction since the request */
  maxPriceDriftPct: z
    .number({ error: 'maxPriceDriftPct must be a number' })
    .gt(0, { error: 'maxPriceDriftPct must be > 0 (a fraction: 0.01 = 1 %)' })
    .max(1, { error: 'maxPriceDriftPct must be at most 1' })
    .default(0.01),
};

/**
 * When an order needs a human approval: none; always; when the order's notional is above `threshold`; or by
 * tiers (auto-pilot): orders below the first tier go out automatically, each tier asks `approvals` distinct
 * approvers (2 = four eyes) for orders whose notional is above `notionalAbove` (the highest matching tier
 * applies), and `autoPilot` tightens it after a loss streak or a drawdown (see domain/approvals).
 */
export const ApprovalPolicySchema = z.discriminatedUnion(
  'mode',
  [
    z.strictObject({ mode: z.literal('none') }),
    z.strictObject({ mode: z.literal('always'), approvals: approvalsNeeded.default(1), ...approvalTiming }),
    z.strictObject({ mode: z.literal('notional-above'), threshold: positive('threshold'), approvals: approvalsNeeded.default(1), ...approvalTiming }),
    z.strictObject({
      mode: z.literal('tiers'),
      tiers: z
        .array(z.strictObject({ notionalAbove: z.number({ error: 'notionalAbove must be a number' }).min(0, { error: 'notionalAbove must be >= 0' }), approvals: approvalsNeeded }))
        .min(1, { error: 'tiers needs at least one tier' })
        .max(10, { error: 'at most 10 tiers' })
        .refine((tiers) => tiers.every((t, i) => i === 0 || t.notionalAbove > tiers[i - 1].notionalAbove), {
          error: 'tiers must be in increasing notionalAbove order',
        }),
      /** tighten after this many losing trades in a row, or this drawdown from the equity peak: nothing is automatic any more and every tier asks one approver more */
      autoPilot: z
        .strictObject({
          lossStreak: z.int({ error: 'lossStreak must be a whole number' }).min(1, { error: 'lossStreak must be at least 1' }).max(1000).optional(),
          drawdownPct: z.number({ error: 'drawdownPct must be a number' }).gt(0, { error: 'drawdownPct must be > 0 (a fraction)' }).max(1).optional(),
        })
        .optional(),
      ...approvalTiming,
    }),
  ],
  { error: 'approvalPolicy.mode must be one of: none, always, notional-above, tiers' },
);
export type ApprovalPolicy = z.output<typeof ApprovalPolicySchema>;

/** Live market-data providers a deployment may name (marketdata/feeds.ts builds them). */
export const MARKET_DATA_PROVIDERS = ['alpaca', 'replay'] as const;

/** A deployment as requested through the API: validated, defaults filled in, strategy params normalized. */
export const DeploymentSpecInputSchema = z.strictObject({
  strategy: z.enum(STRATEGY_NAMES, { error: `strategy must be one of: ${STRATEGY_NAMES.join(', ')}` }),
  params: z.record(z.string(), z.union([z.number(), z.boolean()]), { error: 'params must be an object of numbers or booleans' }).default({}),
  symbols: z
    .array(z.string().regex(SYMBOL_PATTERN, { error: 'a symbol is 1..32 characters of A-Z 0-9 . _ -' }), { error: 'symbols must be a list of symbols' })
    .min(1, { error: 'symbols needs at least one symbol' })
    .max(MAX_SCANNER_UNIVERSE, { error: `at most ${MAX_DEPLOYMENT_SYMBOLS} symbols (a scanner's universe: ${MAX_SCANNER_UNIVERSE})` })
    .refine((s) => new Set(s).size === s.length, { error: 'symbols must not repeat' }),
  timeframe: z.enum(DEPLOYMENT_TIMEFRAMES, { error: `timeframe must be one of: ${DEPLOYMENT_TIMEFRAMES.join(', ')}` }),
  accountId: z.string({ error: 'accountId must be a string' }).regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'accountId is 1..64 characters of A-Z a-z 0-9 . _ -' }),
  broker: z.enum(BROKERS, { error: `broker must be one of: ${BROKERS.join(', ')}` }).default('paper'),
  /** fixed quantity per position (target x quantity is the desired position) */
  quantity: positive('quantity').default(1),
  allowShort: z.boolean({ error: 'allowShort must be true or false' }).default(false),
  /** close the position when a bar closes this fraction against its average entry price (0.02 = 2 %); none when absent */
  stopLossPct: z
    .number({ error: 'stopLossPct must be a number' })
    .positive({ error: 'stopLossPct must be > 0 (a fraction: 0.02 = 2 %)' })
    .lt(1, { error: 'stopLossPct must be < 1 (a fraction: 0.02 = 2 %)' })
    .optional(),
  /** take-profit, stop-loss and trailing stop checked intrabar on each closed bar, as the backtest engine does (./exits.ts) */
  exits: ExitRulesSchema.optional(),
  /** what happens to the unfilled remainder of a partially filled order (./remainders.ts) */
  partialFills: z.enum(PARTIAL_FILL_POLICIES, { error: `partialFills must be one of: ${PARTIAL_FILL_POLICIES.join(', ')}` }).default('cancel-and-replace'),
  riskLimits: RiskLimitsSchema.prefault({}),
  approvalPolicy: ApprovalPolicySchema.default({ mode: 'none' }),
  calendar: z.enum(CALENDAR_IDS, { error: `calendar must be one of: ${CALENDAR_IDS.join(', ')}` }).default('XNYS'),
  /** wait after a bar close before the cycle reads the bar (the data provider needs a moment) */
  settleDelayMs: z.int({ error: 'settleDelayMs must be a whole number of ms' }).min(0).max(300_000, { error: 'settleDelayMs must be at most 300000' }).default(2000),
  /**
   * where its bars come from live: a market-data feed (provider x timeframe) the platform runs; the cycle then waits
   * for the feed to have stored the bar (up to barWaitMs) and skips with a stale-data reason if it has not. Absent: the
   * bars someone imported or stored.
   */
  dataProvider: z.enum(MARKET_DATA_PROVIDERS, { error: `dataProvider must be one of: ${MARKET_DATA_PROVIDERS.join(', ')}` }).optional(),
  /** how long a cycle waits past its settle delay for the feed's bar (default 10000) */
  barWaitMs: z.int({ error: 'barWaitMs must be a whole number of ms' }).min(0).max(MAX_BAR_WAIT_MS, { error: `barWaitMs must be at most ${MAX_BAR_WAIT_MS}` }).optional(),
  /** the cycle does not trade when the newest bar closed more than this many bars before now */
  staleAfterBars: z.int({ error: 'staleAfterBars must be a whole number of bars' }).min(1).max(10_000).default(2),
  /** flat by the close: reduce-only from the close minus marginMinutes until the next open, positions closed by the account's liquidation */
  eod: EodPolicySchema.optional(),
  /** the intraday scanner (./scanner.ts): symbols is its universe, screened and ranked each bar, at most maxPositions held */
  scanner: ScannerSpecSchema.optional(),
  /**
   * who evaluates its bar closes: its own workflow at each close (absent or 'deployment'), or the batch evaluator of
   * its (calendar, timeframe, timing) group, which evaluates every deployment of the group in one activity and wakes
   * this one only to act (README: decision model)
   */
  evaluation: z.enum(EVALUATION_MODES, { error: `evaluation must be one of: ${EVALUATION_MODES.join(', ')}` }).optional(),
});

export const DeploymentSpecSchema = DeploymentSpecInputSchema.transform((s, ctx) => {
  for (const [path, message] of scannerIssues(s)) ctx.issues.push({ code: 'custom', path: [path], message, input: s[path] });
  if (ctx.issues.length) return z.NEVER;
  try {
    const params: Record<string, number | boolean> = validateStrategyParams(s.strategy, s.params);
    return { ...s, params };
  } catch (e) {
    if (!(e instanceof z.ZodError)) throw e;
    for (const issue of e.issues) ctx.issues.push({ ...issue, input: issue.input } as never);
    return z.NEVER;
  }
});

/** What a plain deployment or a scanner may not have: [field, message] pairs. */
function scannerIssues(s: z.output<typeof DeploymentSpecInputSchema>): Array<[keyof typeof s, string]> {
  if (!s.scanner) return s.symbols.length > MAX_DEPLOYMENT_SYMBOLS ? [['symbols', `at most ${MAX_DEPLOYMENT_SYMBOLS} symbols (a scanner's universe: ${MAX_SCANNER_UNIVERSE})`]] : [];
  const issues: Array<[keyof typeof s, string]> = [];
  // flat by the close: the scanner stops entering at the close minus the margin and exits what it holds
  if (!s.eod) issues.push(['eod', 'a scanner needs an eod policy (it is flat by the close), e.g. { "marginMinutes": 5 }']);
  if (s.allowShort) issues.push(['allowShort', 'a scanner enters long only']);
  if (s.approvalPolicy.mode !== 'none') issues.push(['approvalPolicy', 'a scanner takes its entries without approvals (mode none)']);
  if (s.evaluation === 'batch') issues.push(['evaluation', 'a scanner screens its own universe at each close: evaluation batch is for plain deployments']);
  return issues;
}

/**
 * How a recorded spec is evaluated: as it was recorded, with no default applied: one recorded without `evaluation`
 * has no evaluation group and is evaluated per deployment, whatever default a spec parsed today gets.
 */
export function recordedEvaluation(recorded: unknown): (typeof EVALUATION_MODES)[number] {
  return typeof recorded === 'object' && recorded !== null && (recorded as { evaluation?: unknown }).evaluation === 'batch' ? 'batch' : 'deployment';
}

export type DeploymentSpecInput = z.input<typeof DeploymentSpecSchema>;
export type DeploymentSpec = z.output<typeof DeploymentSpecSchema>;

export function parseDeploymentSpec(input: unknown): DeploymentSpec {
  return DeploymentSpecSchema.parse(input);
}

/** Maps wall time to data time, so stored bars can be replayed as a live feed at `speed`x (recorded with the deployment). */
export interface ReplayClockSpec {
  dataStartMs: number;
  wallStartMs: number;
  speed: number;
}
