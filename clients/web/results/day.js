// A trading day's summary (/results/days/:date/:account): the account's metrics, its intraday PnL curve (the
// deployments' curves summed) and a row per deployment, from GET /v1/daily-summaries.
import { getJson } from './api.js';
import { figure, fillSummary, markRendered, money, num, pct, table } from './format.js';
import { equityChart } from './time-charts.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export async function showDay(date, accountId, { heading, summary, parts }) {
  if (!DATE.test(date)) throw new Error(`not a date (YYYY-MM-DD): ${date}`);
  const { summaries } = await getJson(`/v1/daily-summaries?date=${encodeURIComponent(date)}&accountId=${encodeURIComponent(accountId)}&limit=1000`);
  const account = summaries.find((s) => s.scope === 'account');
  if (!account) throw new Error(`no daily summary of account ${accountId} on ${date} (they are written after each session closes)`);
  const m = account.metrics;
  heading.textContent = `Account ${accountId}, ${date}`;
  fillSummary(summary, [
    ['Day PnL', money(m.dayPnl)],
    ['Realized', money(m.realizedPnl)],
    ['Unrealized', money(m.unrealizedPnl)],
    ['Trades', num(m.trades)],
    ['Win rate', m.winRate === null ? '-' : pct(m.winRate)],
    ['Profit factor', m.profitFactor === null ? '-' : num(m.profitFactor)],
    ['Max intraday drawdown', money(m.maxDrawdown)],
    ['Fees', m.feesReported ? money(m.fees) : `${money(m.fees)} (none reported)`],
    ['Time in market', pct(m.exposure.timeInMarket)],
    ['Max gross notional', money(m.exposure.maxGrossNotional)],
  ]);
  const chart = figure('day-equity', 'Intraday PnL since the open (all deployments of the account)');
  const deployments = summaries.filter((s) => s.scope === 'deployment');
  parts.replaceChildren(
    chart.fig,
    table(
      'Deployments',
      ['Deployment', 'Day PnL', 'Realized', 'Unrealized', 'Trades', 'Win rate', 'Max drawdown'],
      deployments.map((d) => [d.scopeId, money(d.metrics.dayPnl), money(d.metrics.realizedPnl), money(d.metrics.unrealizedPnl), num(d.metrics.trades), d.metrics.winRate === null ? '-' : pct(d.metrics.winRate), money(d.metrics.maxDrawdown)]),
    ),
  );
  const drawn = equityChart(chart.box, account.equity.map(([ts, pnl]) => ({ ts, equity: pnl })), { intraday: true, startCash: 0 });
  chart.note.textContent = `${drawn.points} points; computed ${account.computedAt}`;
  markRendered(chart.fig, drawn.series, drawn.points, drawn.colors);
}
