import { InvalidArgumentError } from 'commander';

/** How a rehearsal decides the approvals its deployment's policy asks for (nobody is there to click). */
export interface ApprovalRule {
  text: string;
  decide(notional: number): { decision: 'approve' | 'reject'; why: string };
}

export const DEFAULT_APPROVAL_RULE = 'all';

/** `all` approves every request, `none` rejects every one, `below:<notional>` approves those under the notional. */
export function approvalRuleArg(value: string): ApprovalRule {
  const v = value.trim().toLowerCase();
  if (v === 'all') return { text: 'approve all', decide: () => ({ decision: 'approve', why: 'rule: approve all' }) };
  if (v === 'none') return { text: 'approve none (reject all)', decide: () => ({ decision: 'reject', why: 'rule: approve none' }) };
  const m = /^below:(\d+(\.\d+)?)$/.exec(v);
  if (m && Number(m[1]) > 0) {
    const limit = Number(m[1]);
    return {
      text: `approve below ${limit} notional, reject the rest`,
      decide: (notional) => (notional < limit ? { decision: 'approve', why: `rule: notional ${round(notional)} < ${limit}` } : { decision: 'reject', why: `rule: notional ${round(notional)} >= ${limit}` }),
    };
  }
  throw new InvalidArgumentError('--approve must be all, none or below:<notional> (e.g. below:5000).');
}

const round = (v: number) => Math.round(v * 100) / 100;
