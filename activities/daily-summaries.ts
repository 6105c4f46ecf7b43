import { activeInWindow, cyclePnl, fillsUntil, lastCloses, upsertDailySummary } from '../db/sql/daily-summaries';
import { getLiquidationForDay } from '../db/sql/liquidations';
import { enqueueNotification } from '../db/sql/notifications';
import { inTransaction, type ConnectionPool } from '../db/sql/queryable';
import { sessionOn, type CalendarId } from '../domain/calendar/calendar';
import { summarizeDay, sumCurves, type DayMetrics, type SummaryFill } from '../domain/eod/summary';

const money = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(2);
const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(0)}%`);

/**
 * After each session's close: per deployment and per account, the day's realized and unrealized PnL, trades, win rate,
 * profit factor, max intraday drawdown, fees and exposure (domain/eod/summary.ts), stored idempotently per day, and one
 * notification per account (deduplicated per day, so a recompute never sends twice).
 */
export function createDailySummaryActivities({ db }: { db: ConnectionPool }) {
  return {
    async writeDailySummaries(args: { calendar: CalendarId; date: string }): Promise<{ accounts: number; deployments: number }> {
      const s = sessionOn(args.calendar, args.date);
      if (!s) return { accounts: 0, deployments: 0 };
      const active = await activeInWindow(db, s.open, s.close);
      const accounts = new Map<string, string[]>();
      for (const a of active) accounts.set(a.accountId, [...(accounts.get(a.accountId) ?? []), a.deploymentId]);
      let deployments = 0;
      for (const [accountId, ids] of accounts) {
        const fills = await fillsUntil(db, ids, s.close);
        const symbols = [...new Set(fills.map((f) => f.symbol))];
        const [openPrices, closePrices] = await Promise.all([lastCloses(db, symbols, s.open), lastCloses(db, symbols, s.close)]);
        const day = (f: SummaryFill[], cycles?: Array<[number, number]>) => summarizeDay({ fills: f, dayStartMs: s.open, dayEndMs: s.close, openPrices, closePrices, cyclePnl: cycles });
        const curves: Array<Array<[number, number]>> = [];
        await inTransaction(db, async (tx) => {
          for (const id of ids) {
            const summary = day(fills.filter((f) => f.deploymentId === id), await cyclePnl(tx, id, s.open, s.close));
            curves.push(summary.equity);
            await upsertDailySummary(tx, { tradingDay: args.date, scope: 'deployment', scopeId: id, accountId, ...summary });
            deployments++;
          }
          const account = day(fills);
          const equity = sumCurves(curves);
          // The account's curve is its deployments' curves summed; its last point is the account's own day PnL.
          if (equity.length) equity[equity.length - 1] = [s.close, account.metrics.dayPnl];
          await upsertDailySummary(tx, { tradingDay: args.date, scope: 'account', scopeId: accountId, accountId, metrics: account.metrics, equity });
          const liquidation = await getLiquidationForDay(tx, accountId, args.date);
          await enqueueNotification(tx, {
            kind: 'eod.daily_summary',
            severity: 'info',
            subject: `${accountId} ${args.date}: day PnL ${money(account.metrics.dayPnl)}, ${account.metrics.trades} trades`,
            body: describe(accountId, args.date, account.metrics, ids.length, liquidation?.status),
            payload: { accountId, tradingDay: args.date, deployments: ids, metrics: account.metrics, liquidation: liquidation ? { id: liquidation.id, status: liquidation.status } : null },
            dedupeKey: `daily-summary:${accountId}:${args.date}`,
          });
        });
      }
      return { accounts: accounts.size, deployments };
    },
  };
}
export type DailySummaryActivities = ReturnType<typeof createDailySummaryActivities>;

function describe(accountId: string, date: string, m: DayMetrics, deployments: number, liquidation: string | undefined): string {
  return [
    `Account ${accountId}, ${date} (${deployments} deployment${deployments === 1 ? '' : 's'}):`,
    `day PnL ${money(m.dayPnl)} (realized ${money(m.realizedPnl)}, unrealized ${money(m.unrealizedPnl)}), fees ${m.fees.toFixed(2)}${m.feesReported ? '' : ' (none reported by the broker)'}`,
    `trades ${m.trades}, win rate ${pct(m.winRate)}, profit factor ${m.profitFactor === null ? 'n/a' : m.profitFactor.toFixed(2)}, max intraday drawdown ${m.maxDrawdown.toFixed(2)}`,
    `time in market ${pct(m.exposure.timeInMarket)}, max gross notional ${m.exposure.maxGrossNotional.toFixed(2)}, positions at close: ${Object.keys(m.positionsAtClose).length || 'none'}`,
    `end-of-day liquidation: ${liquidation ?? 'none'}`,
    `the day's chart: /results/days/${date}/${encodeURIComponent(accountId)}`,
  ].join('\n');
}
