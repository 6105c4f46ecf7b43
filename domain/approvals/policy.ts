import type { ApprovalPolicy } from '../deployment/spec';

/**
 * How many distinct human approvals an order needs under a deployment's approval policy. Pure; the deployment
 * cycle calls it after the risk gate (only orders the gate lets out are ever put to a human).
 *
 * - Exposure-reducing orders (exits, stop-losses, flatten) never wait for a human: holding a losing position
 *   until someone answers is the risk the approval exists to reduce.
 * - 'tiers' is the auto-pilot: below the first tier automatic, above it the highest matching tier's count;
 *   tightened (after `autoPilot.lossStreak` losing trades in a row or `autoPilot.drawdownPct` drawdown) every
 *   order needs at least one approval and each tier one more (at most 5).
 */
export interface ApprovalContext {
  /** |qty| x price of the order */
  notional: number;
  exposureReducing: boolean;
  /** losing round trips in a row (0 after a win) */
  lossStreak: number;
  /** drawdown of the deployment's equity from its peak, a fraction */
  drawdownPct: number;
}

export interface ApprovalRequirement {
  /** 0: the order goes out without a human */
  approvals: number;
  /** why, for the audit row */
  rule: string;
  tightened: boolean;
}

export const MAX_APPROVALS = 5;

export function requiredApprovals(policy: ApprovalPolicy, ctx: ApprovalContext): ApprovalRequirement {
  if (policy.mode === 'none') return { approvals: 0, rule: 'policy none', tightened: false };
  if (ctx.exposureReducing) return { approvals: 0, rule: 'exposure-reducing orders need no approval', tightened: false };
  if (policy.mode === 'always') return { approvals: policy.approvals, rule: 'policy always', tightened: false };
  if (policy.mode === 'notional-above') {
    return ctx.notional > policy.threshold
      ? { approvals: policy.approvals, rule: `notional ${round(ctx.notional)} > ${policy.threshold}`, tightened: false }
      : { approvals: 0, rule: `notional ${round(ctx.notional)} <= ${policy.threshold}`, tightened: false };
  }
  const ap = policy.autoPilot;
  const why: string[] = [];
  if (ap?.lossStreak !== undefined && ctx.lossStreak >= ap.lossStreak) why.push(`${ctx.lossStreak} losing trades in a row >= ${ap.lossStreak}`);
  if (ap?.drawdownPct !== undefined && ctx.drawdownPct >= ap.drawdownPct) why.push(`drawdown ${round(ctx.drawdownPct * 100)}% >= ${round(ap.drawdownPct * 100)}%`);
  const tightened = why.length > 0;
  let tier: { notionalAbove: number; approvals: number } | undefined;
  for (const t of policy.tiers) if (ctx.notional > t.notionalAbove) tier = t;
  const base = tier ? tier.approvals : 0;
  const approvals = tightened ? Math.min(MAX_APPROVALS, base + 1) : base;
  const tierText = tier ? `tier notional > ${tier.notionalAbove}: ${tier.approvals}` : `notional ${round(ctx.notional)} below the first tier: automatic`;
  return { approvals, rule: tightened ? `${tierText}; tightened (${why.join(', ')}): ${approvals}` : tierText, tightened };
}

/** Price drift since the request, as a fraction of the requested price. */
export function priceDrift(requestedPrice: number, currentPrice: number): number {
  return requestedPrice > 0 ? Math.abs(currentPrice - requestedPrice) / requestedPrice : Infinity;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
