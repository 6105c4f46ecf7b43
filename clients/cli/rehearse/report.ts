import type { Pool } from 'pg';
import type { BrokerPort } from '../../../brokers/port';
import { listApprovals } from '../../../db/sql/approvals';
import { listDailySummaries } from '../../../db/sql/daily-summaries';
import { getLiquidationForDay } from '../../../db/sql/liquidations';
import { listLedgerOrders } from '../../../db/sql/order-ledger';
import type { DayMetrics } from '../../../domain/eod/summary';
import { exchangeTime } from '../../../domain/eod/policy';
import { cell, fmtNumber, keyValues, pct, table } from '../format';
import type { RehearsedDay } from './run';

/** The rehearsed day as `rehearse --json` prints it (times: ISO instants of the exchange's clock). */
export interface RehearsalReport {
  date: string;
  session: { open: string; close: string; earlyClose: boolean };
  deployment: { id: string; strategy: string; params: Record<string, number | boolean>; symbols: string[]; timeframe: string; accountId: string; cycles: number };
  bars: Array<{ symbol: string; bars: number; inSession: number }>;
  approvals: { policy: unknown; rule: string; requests: Array<{ id: string; cycle: number; symbol: string; side: string; qty: number; notional: number; decision: string | null; why: string | null; status: string; outcome: string | null }> };
  orders: Array<{ at: string | null; by: 'deployment' | 'liquidation'; symbol: string; side: string; qty: number; state: string; filledQty: number; avgFillPrice: number | null; rejectReason: string | null }>;
  liquidation: { workflowId: string; status: string; reduceOnlyAt: string; flatBy: string; steps: Array<{ step: string; at: string; detail: Record<string, unknown> }>; report: unknown } | null;
  /** the broker's own positions at the end of the day */
  positionsAtEnd: Array<{ symbol: string; qty: number }>;
  flatAtClose: boolean;
  summary: DayMetrics | null;
  /** the whole command, and the session alone (without creating the database, the servers and the bars) */
  wallSeconds: number;
  sessionSeconds: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Reads the rehearsal's database and its broker into the report. */
export async function collectReport(
  db: Pool,
  broker: BrokerPort,
  day: RehearsedDay,
  base: Pick<RehearsalReport, 'date' | 'session' | 'deployment' | 'bars'> & { policy: unknown; rule: string; wallSeconds: number },
): Promise<RehearsalReport> {
  const decided = new Map(day.decisions.map((d) => [d.approvalId, d]));
  const requests = (await listApprovals(db, { deploymentId: day.deploymentId }, 1_000, 0)).reverse();
  const orders = (await listLedgerOrders(db, {}, 10_000, 0)).reverse().sort((a, b) => (a.dataTs ?? 0) - (b.dataTs ?? 0));
  const liq = await getLiquidationForDay(db, base.deployment.accountId, base.date);
  const [summary] = (await listDailySummaries(db, { date: base.date, accountId: base.deployment.accountId }, 10, 0)).filter((s) => s.scope === 'account');
  const positions = (await broker.listPositions()).filter((p) => p.qty !== 0).map((p) => ({ symbol: p.symbol, qty: p.qty }));
  return {
    ...base,
    deployment: { ...base.deployment, cycles: day.cycles },
    approvals: {
      policy: base.policy,
      rule: base.rule,
      requests: requests.map((a) => ({
        id: a.id, cycle: a.cycle, symbol: a.symbol, side: a.side, qty: a.qty, notional: a.notional,
        decision: decided.get(a.id)?.decision ?? null, why: decided.get(a.id)?.why ?? null, status: a.status, outcome: a.outcome,
      })),
    },
    orders: orders.map((o) => ({
      at: iso(o.dataTs), by: o.workflowId.startsWith('deployment-') ? 'deployment' : 'liquidation', symbol: o.symbol, side: o.side, qty: o.qty,
      state: o.state, filledQty: o.filledQty, avgFillPrice: o.avgFillPrice, rejectReason: o.rejectReason,
    })),
    liquidation: liq
      ? {
          workflowId: liq.workflowId, status: liq.status, reduceOnlyAt: iso(liq.reduceOnlyAtMs)!, flatBy: iso(liq.flatByMs)!,
          steps: liq.steps.map((s) => ({ step: s.step, at: iso(s.at)!, detail: s.detail })), report: liq.report,
        }
      : null,
    positionsAtEnd: positions,
    flatAtClose: positions.length === 0,
    summary: summary?.metrics ?? null,
    sessionSeconds: day.sessionSeconds,
  };
}

/** The day as text: what happened, in the order it happened, then the numbers. */
export function reportText(r: RehearsalReport): string {
  const et = (isoTs: string | null) => (isoTs ? `${exchangeTime('XNYS', Date.parse(isoTs)).slice(11)}` : '-');
  const d = r.deployment;
  const out: string[] = [];
  out.push(keyValues([
    ['rehearsal', `${r.date} (XNYS ${et(r.session.open)}-${et(r.session.close)} ET${r.session.earlyClose ? ', early close' : ''})`],
    ['deployment', `${d.strategy} ${JSON.stringify(d.params)} on ${d.symbols.join(',')} ${d.timeframe}, account ${d.accountId}: ${d.cycles} cycles`],
    ['bars', r.bars.map((b) => `${b.symbol} ${b.inSession} in the session (${b.bars} stored)`).join('; ')],
    ['approvals', `policy ${JSON.stringify(r.approvals.policy)}; rule: ${r.approvals.rule}`],
  ]));
  out.push('', `orders (${r.orders.length})`);
  out.push(table(r.orders.map((o) => ({ time: et(o.at), by: o.by, symbol: o.symbol, side: o.side, qty: o.qty, state: o.state, filled: o.filledQty, price: o.avgFillPrice, note: o.rejectReason ?? '' }))));
  out.push('', `approvals (${r.approvals.requests.length})`);
  out.push(table(r.approvals.requests.map((a) => ({ cycle: a.cycle, symbol: a.symbol, side: a.side, qty: a.qty, notional: a.notional, decision: a.decision, status: a.status, why: a.why ?? a.outcome ?? '' }))));
  const l = r.liquidation;
  out.push('', l ? `liquidation ${l.workflowId}: ${l.status} (reduce-only ${et(l.reduceOnlyAt)} ET, flat by ${et(l.flatBy)} ET)` : 'liquidation: none recorded');
  if (l) out.push(table(l.steps.map((s) => ({ time: et(s.at), step: s.step, detail: cell(s.detail) }))));
  out.push('', `flat at the close: ${r.flatAtClose ? 'yes' : `no (${r.positionsAtEnd.map((p) => `${p.symbol} ${p.qty}`).join(', ')})`}`);
  const m = r.summary;
  out.push('', 'daily summary');
  out.push(m ? keyValues([
    ['realized pnl', m.realizedPnl], ['unrealized pnl', m.unrealizedPnl], ['day pnl', m.dayPnl],
    ['trades', `${m.trades} (${m.wins} won, ${m.losses} lost)`], ['win rate', m.winRate === null ? '-' : pct(m.winRate)], ['profit factor', m.profitFactor],
    ['max drawdown', m.maxDrawdown], ['fees', m.fees], ['fills', m.fills], ['turnover', m.turnover],
    ['time in market', pct(m.exposure.timeInMarket)], ['max gross notional', m.exposure.maxGrossNotional],
  ]) : '(none written)');
  out.push('', `wall time: ${fmtNumber(r.sessionSeconds)} s for the whole session in the time-skipping server (${fmtNumber(r.wallSeconds)} s with the set-up)`);
  return out.join('\n');
}
