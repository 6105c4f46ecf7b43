import { priceDrift, requiredApprovals, type ApprovalContext } from '../../domain/approvals';
import { ApprovalPolicySchema } from '../../domain/deployment/spec';

const ctx = (over: Partial<ApprovalContext> = {}): ApprovalContext => ({ notional: 1000, exposureReducing: false, lossStreak: 0, drawdownPct: 0, ...over });
const policy = (p: unknown) => ApprovalPolicySchema.parse(p);

describe('requiredApprovals', () => {
  test('none never asks; always asks its count; exits never wait for a human', () => {
    expect(requiredApprovals(policy({ mode: 'none' }), ctx())).toMatchObject({ approvals: 0 });
    expect(requiredApprovals(policy({ mode: 'always' }), ctx())).toEqual({ approvals: 1, rule: 'policy always', tightened: false });
    expect(requiredApprovals(policy({ mode: 'always', approvals: 2 }), ctx())).toMatchObject({ approvals: 2 });
    expect(requiredApprovals(policy({ mode: 'always', approvals: 2 }), ctx({ exposureReducing: true }))).toMatchObject({ approvals: 0, rule: 'exposure-reducing orders need no approval' });
  });

  test('notional-above: strictly above the threshold', () => {
    const p = policy({ mode: 'notional-above', threshold: 1000 });
    expect(requiredApprovals(p, ctx({ notional: 1000 }))).toMatchObject({ approvals: 0, rule: 'notional 1000 <= 1000' });
    expect(requiredApprovals(p, ctx({ notional: 1000.01 }))).toMatchObject({ approvals: 1, rule: 'notional 1000.01 > 1000' });
  });

  test('tiers (auto-pilot): automatic below the first tier, the highest matching tier above it, tightened after a loss streak or drawdown', () => {
    const p = policy({ mode: 'tiers', tiers: [{ notionalAbove: 500, approvals: 1 }, { notionalAbove: 5000, approvals: 2 }], autoPilot: { lossStreak: 3, drawdownPct: 0.05 } });
    expect(requiredApprovals(p, ctx({ notional: 400 }))).toEqual({ approvals: 0, rule: 'notional 400 below the first tier: automatic', tightened: false });
    expect(requiredApprovals(p, ctx({ notional: 600 }))).toMatchObject({ approvals: 1, tightened: false });
    expect(requiredApprovals(p, ctx({ notional: 6000 }))).toMatchObject({ approvals: 2 });
    // tightened: nothing is automatic any more, and each tier asks one approver more
    expect(requiredApprovals(p, ctx({ notional: 400, lossStreak: 3 }))).toMatchObject({ approvals: 1, tightened: true });
    expect(requiredApprovals(p, ctx({ notional: 6000, drawdownPct: 0.05 }))).toMatchObject({ approvals: 3, tightened: true });
    expect(requiredApprovals(p, ctx({ notional: 400, lossStreak: 2, drawdownPct: 0.049 }))).toMatchObject({ approvals: 0, tightened: false });
    expect(requiredApprovals(p, ctx({ notional: 400, lossStreak: 5 })).rule).toContain('5 losing trades in a row >= 3');
    // at most 5 approvers
    const max = policy({ mode: 'tiers', tiers: [{ notionalAbove: 0, approvals: 5 }], autoPilot: { lossStreak: 1 } });
    expect(requiredApprovals(max, ctx({ lossStreak: 1 }))).toMatchObject({ approvals: 5 });
  });

  test('policy validation: defaults and clear errors', () => {
    expect(policy({ mode: 'always' })).toEqual({ mode: 'always', approvals: 1, expiresAfterMs: 300_000, maxPriceDriftPct: 0.01 });
    expect(() => policy({ mode: 'always', approvals: 6 })).toThrow(/approvals must be at most 5/);
    expect(() => policy({ mode: 'always', expiresAfterMs: 1000 })).toThrow(/at least 10000/);
    expect(() => policy({ mode: 'tiers', tiers: [{ notionalAbove: 5, approvals: 1 }, { notionalAbove: 1, approvals: 2 }] })).toThrow(/increasing notionalAbove/);
    expect(() => policy({ mode: 'sometimes' })).toThrow(/approvalPolicy.mode must be one of/);
  });
});

test('priceDrift: relative to the requested price', () => {
  expect(priceDrift(100, 101)).toBeCloseTo(0.01);
  expect(priceDrift(100, 99)).toBeCloseTo(0.01);
  expect(priceDrift(0, 1)).toBe(Infinity);
});
