import { Option, type Command } from 'commander';
import { APPROVAL_STATUSES } from '../../../domain/approvals';
import { fmtNumber, keyValues, table } from '../format';
import { clientFrom, numberArg, print, printJson, type GlobalOptions } from '../options';

/** The API's approval request (see /docs for the full schema). */
interface Approval {
  id: string;
  deploymentId: string;
  workflowId: string;
  status: string;
  trade: { symbol: string; side: string; qty: number; price: number; notional: number };
  reason: { signal?: unknown; indicators?: Record<string, unknown>; risk?: { decision?: string; qty?: number; reasons?: Array<{ rule: string; detail: string }> }; rule?: string; strategy?: string; paramsVersion?: number };
  requiredApprovals: number;
  approvals: number;
  requestedBy: string;
  createdAt: string;
  expiresAt: string;
  timeLeftMs: number;
  decidedAt: string | null;
  clientOrderId: string | null;
  outcome: string | null;
  decisions: Array<{ approver: string; decision: 'approve' | 'reject'; reason: string | null; at: string }>;
  links: { self: string; temporalUi: string };
}

interface Decided {
  id: string;
  decision: 'approve' | 'reject';
  status: string;
  approvals: number;
  requiredApprovals: number;
  signalled: boolean;
}


const trade = (a: Approval) => `${a.trade.side} ${fmtNumber(a.trade.qty)} ${a.trade.symbol} @ ${fmtNumber(a.trade.price)}`;

/** "4m 05s", "1h 02m 03s"; "-" once nothing is left (expired or decided). */
export function timeLeft(ms: number): string {
  if (!(ms > 0)) return '-';
  const s = Math.ceil(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m ${ss}s` : `${m}m ${ss}s`;
}

function riskText(risk: Approval['reason']['risk']): string | undefined {
  if (!risk) return undefined;
  const reasons = (risk.reasons ?? []).map((r) => `${r.rule}: ${r.detail}`);
  return `${risk.decision ?? '?'}, qty ${risk.qty ?? '?'}${reasons.length ? ` (${reasons.join('; ')})` : ''}`;
}

function showApproval(a: Approval): void {
  const r = a.reason;
  const indicators = Object.entries(r.indicators ?? {})
    .map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNumber(v) : JSON.stringify(v)}`)
    .join(', ');
  print(
    keyValues([
      ['approval', a.id],
      ['status', a.status],
      ['trade', `${trade(a)} (notional ${fmtNumber(a.trade.notional)})`],
      ['rule', r.rule],
      ['signal', r.signal],
      ['indicators', indicators || undefined],
      ['risk', riskText(r.risk)],
      ['strategy', r.strategy ? `${r.strategy}${r.paramsVersion !== undefined ? ` (params v${r.paramsVersion})` : ''}` : undefined],
      ['approvals', `${a.approvals} of ${a.requiredApprovals}`],
      ['requested', `${a.requestedBy} at ${a.createdAt}`],
      ['expires', a.expiresAt],
      ['time left', timeLeft(a.timeLeftMs)],
      ['decided', a.decidedAt],
      ['outcome', a.outcome],
      ['client order', a.clientOrderId],
      ['deployment', a.deploymentId],
      ['temporal', a.links.temporalUi],
    ]),
  );
  print('\ndecisions');
  print(table(a.decisions.map((d) => ({ at: d.at, approver: d.approver, decision: d.decision, reason: d.reason ?? '' }))));
}

/** `approvals list | show | approve | reject`. */
export function registerApprovalCommands(program: Command, globals: () => GlobalOptions): void {
  const approvals = program.command('approvals').description('trades put to human approvers: list, inspect, approve or reject them');

  approvals
    .command('list')
    .description('approval requests, newest first')
    .addOption(new Option('--status <status>', 'only this status').choices([...APPROVAL_STATUSES]))
    .option('--deployment <id>', 'only this deployment')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--offset <n>', 'skip this many', numberArg('--offset', { min: 0, integer: true }), 0)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { status?: string; deployment?: string; limit: number; offset: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ approvals: Approval[] }>('/v1/approvals', {
        status: opts.status,
        deploymentId: opts.deployment,
        limit: opts.limit,
        offset: opts.offset,
      });
      if (opts.json) return printJson(r);
      print(
        table(
          r.approvals.map((a) => ({
            id: a.id,
            status: a.status,
            trade: trade(a),
            notional: a.trade.notional,
            rule: a.reason.rule ?? '',
            approvals: `${a.approvals}/${a.requiredApprovals}`,
            left: timeLeft(a.timeLeftMs),
            requestedBy: a.requestedBy,
            deployment: a.deploymentId,
            created: a.createdAt,
          })),
        ),
      );
    });

  approvals
    .command('show')
    .description('one request: the trade, why the cycle asked, time left, decisions, outcome')
    .argument('<id>', 'approval id')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const a = await clientFrom(globals()).get<Approval>(`/v1/approvals/${encodeURIComponent(id)}`);
      if (opts.json) return printJson(a);
      showApproval(a);
    });

  for (const decision of ['approve', 'reject'] as const) {
    approvals
      .command(decision)
      .description(
        decision === 'approve'
          ? 'approve a pending trade (approver or admin key; never your own deployment): it trades once enough approvers agreed'
          : 'reject a pending trade (approver or admin key): it never trades',
      )
      .argument('<id>', 'approval id')
      .option('--reason <text>', 'why (recorded with the decision)')
      .option('--json', 'print the answer as JSON')
      .action(async (id: string, opts: { reason?: string; json?: boolean }) => {
        const r = await clientFrom(globals()).post<Decided>(`/v1/approvals/${encodeURIComponent(id)}/${decision}`, opts.reason !== undefined ? { reason: opts.reason } : {});
        if (opts.json) return printJson(r);
        const next =
          r.status === 'pending'
            ? `; waiting for ${r.requiredApprovals - r.approvals} more approver(s)`
            : r.status === 'approved'
              ? '; the workflow re-checks the kill switch, risk and price, then places the order'
              : '';
        print(`approval ${r.id}: ${decision} recorded; status ${r.status} (${r.approvals} of ${r.requiredApprovals} approvals)${next}`);
        if (!r.signalled) print('the workflow was not reachable now; it reads the recorded decision within 30 s');
      });
  }
}
