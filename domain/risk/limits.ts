import { z } from 'zod';

/**
 * Risk limits of one deployment (and the account it trades in). Quantities are in units of the instrument,
 * money in the account currency, drawdowns as fractions (0.1 = 10 %).
 */
const positive = (what: string) =>
  z.number({ error: `${what} must be a number` }).positive({ error: `${what} must be > 0` }).max(1e15, { error: `${what} is too large` });
const nonNegative = (what: string) =>
  z.number({ error: `${what} must be a number` }).min(0, { error: `${what} must be >= 0` }).max(1e15, { error: `${what} is too large` });
const fraction = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .gt(0, { error: `${what} must be > 0 (a fraction: 0.1 = 10 %)` })
    .max(1, { error: `${what} must be at most 1 (a fraction: 0.1 = 10 %)` });

export const RiskLimitsSchema = z
  .strictObject({
    /** largest absolute position of this deployment in one symbol */
    maxPositionQty: positive('maxPositionQty').default(100),
    /** largest notional (sum of |qty| x price) of this deployment's positions */
    maxExposure: positive('maxExposure').default(10_000),
    /** largest notional of the whole account (all deployments); unchecked when absent */
    maxAccountExposure: positive('maxAccountExposure').optional(),
    /** smallest order quantity for orders that add exposure (0: any quantity > 0) */
    minOrderQty: nonNegative('minOrderQty').default(0),
    /** smallest order notional for orders that add exposure; unchecked when absent */
    minOrderNotional: nonNegative('minOrderNotional').optional(),
    /** lot size: reduced quantities are rounded down to a multiple of it (e.g. 1 for whole shares); none when absent */
    qtyStep: positive('qtyStep').optional(),
    /** most symbols with an open position in the account; a new symbol beyond it is rejected */
    maxOpenPositions: z
      .int({ error: 'maxOpenPositions must be a whole number' })
      .min(1, { error: 'maxOpenPositions must be at least 1' })
      .max(10_000, { error: 'maxOpenPositions must be at most 10000' })
      .default(10),
    /** loss of the day (realized today + unrealized, in currency, positive) at which new exposure stops */
    dailyLossLimit: positive('dailyLossLimit').default(500),
    /** bars after a stop-loss during which no new exposure is opened (0: no cooldown) */
    cooldownBarsAfterStopLoss: z
      .int({ error: 'cooldownBarsAfterStopLoss must be a whole number of bars' })
      .min(0, { error: 'cooldownBarsAfterStopLoss must be >= 0' })
      .max(100_000, { error: 'cooldownBarsAfterStopLoss must be at most 100000' })
      .default(3),
    /** drawdown from the equity peak that latches the soft breaker (no new exposure) */
    drawdownSoftPct: fraction('drawdownSoftPct').default(0.1),
    /** drawdown from the equity peak that latches the hard breaker (no new exposure, force-close) */
    drawdownHardPct: fraction('drawdownHardPct').default(0.2),
  })
  .superRefine((l, ctx) => {
    if (l.drawdownSoftPct > l.drawdownHardPct) {
      ctx.addIssue({ code: 'custom', path: ['drawdownSoftPct'], message: `drawdownSoftPct (${l.drawdownSoftPct}) must not exceed drawdownHardPct (${l.drawdownHardPct})` });
    }
  });

export type RiskLimits = z.output<typeof RiskLimitsSchema>;

/** The defaults: RiskLimitsSchema.parse({}). */
export const DEFAULT_RISK_LIMITS: Readonly<RiskLimits> = Object.freeze(RiskLimitsSchema.parse({}));
