import cliProgress from 'cli-progress';
import { Pool } from 'pg';
import { paperBrokerPort } from '../../../brokers';
import type { TradingSession } from '../../../domain/calendar';
import type { DEPLOYMENT_TIMEFRAMES, DeploymentSpec } from '../../../domain/deployment/spec';
import { exchangeTime } from '../../../domain/eod/policy';
import { print, printJson } from '../options';
import type { ApprovalRule } from './approval-rule';
import { readSessionBars, storeSessionBars, type BarSource } from './bars';
import { openRehearsalInfra, platformServers } from './infra';
import { collectReport, reportText } from './report';
import { rehearseSession, type RehearsalProgress } from './run';

/** The command's flags, as commander parses them (clients/cli/commands/rehearse.ts). */
export interface RehearseFlags {
  date: string;
  strategy: string;
  params?: Record<string, unknown>;
  symbols?: string[];
  symbol?: string;
  csv?: string;
  tz: string;
  timeframe: (typeof DEPLOYMENT_TIMEFRAMES)[number];
  account: string;
  cash: number;
  quantity?: number;
  short?: boolean;
  risk?: Record<string, unknown>;
  approval?: Record<string, unknown>;
  exits?: Record<string, unknown>;
  partialFills?: string;
  eodMargin: number;
  approve: ApprovalRule;
  keep?: boolean;
  json?: boolean;
}

/** A bar of the session's clock on stderr, only on a terminal (as the other long commands). */
function progressBar(session: TradingSession): RehearsalProgress & { stop(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: ' rehearse |{bar}| {percentage}% | {clock} ET | {cycles} cycles | {approvals} approvals decided', hideCursor: true }, cliProgress.Presets.shades_classic);
  const total = Math.round((session.close - session.open) / 60_000);
  bar.start(total, 0, { clock: exchangeTime('XNYS', session.open).slice(11), cycles: 0, approvals: 0 });
  return {
    update(dataMs, c) {
      bar.update(Math.min(total, Math.max(0, Math.round((dataMs - session.open) / 60_000))), { clock: exchangeTime('XNYS', dataMs).slice(11), ...c });
    },
    stop: () => bar.stop(),
  };
}

/** One rehearsal from checked flags: its own database, keys and paper broker, the day, the report; cleaned up after. */
export async function rehearseDay(f: RehearseFlags, plan: { session: TradingSession; source: BarSource; spec: DeploymentSpec; ruleText: string }): Promise<void> {
  const { session, source, spec } = plan;
  const started = Date.now();
  const log = (m: string) => !f.json && process.stderr.write(`${m}\n`);
  const servers = await platformServers();
  const platform = source.kind === 'stored' ? new Pool({ connectionString: servers.adminUrl, max: 1 }) : undefined;
  const bars = await readSessionBars(source, platform, spec.timeframe, session, f.date).finally(() => platform?.end());
  const infra = await openRehearsalInfra(servers, { account: spec.accountId, initialCash: f.cash, log });
  // Ctrl-C: the rehearsal's database, keys and paper broker go too
  const interrupted = () => void infra.stop(false).finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let ok = false;
  try {
    await storeSessionBars(infra.db, spec.timeframe, bars);
    const bar = progressBar(session);
    const day = await rehearseSession(infra, { spec, session, date: f.date, rule: f.approve }, bar).finally(() => bar.stop());
    const report = await collectReport(infra.db, paperBrokerPort(infra.paper.url), day, {
      date: f.date,
      session: { open: new Date(session.open).toISOString(), close: new Date(session.close).toISOString(), earlyClose: session.earlyClose },
      deployment: { id: day.deploymentId, strategy: spec.strategy, params: spec.params, symbols: spec.symbols, timeframe: spec.timeframe, accountId: spec.accountId, cycles: day.cycles },
      bars: bars.perSymbol,
      policy: spec.approvalPolicy,
      rule: plan.ruleText,
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    });
    if (f.json) printJson(report);
    else print(reportText(report));
    if (f.keep) log(`kept database ${infra.databaseName} on the platform's Postgres (drop it when done)`);
    ok = true;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await infra.stop(Boolean(f.keep) && ok);
  }
}

