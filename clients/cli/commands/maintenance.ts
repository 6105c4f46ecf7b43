import { Argument, type Command } from 'commander';
import { CliError } from '../errors';
import { table } from '../format';
import { clientFrom, numberArg, print, type GlobalOptions } from '../options';

interface Capacity {
  queues: Array<{ queue: string; backlog: number; backlogAgeMs: number; pollers: number; workers: Array<{ identity: string; cpuPct: number | null; rssBytes: number | null }> }>;
  advice: string[];
}
interface DeadLetters {
  workflows: Array<{ workflowId: string; runId: string; type: string; status: string; closedAt: string | null; retryable: boolean }>;
  notifications: Array<{ id: string; kind: string; subject: string; attempts: number; lastError: string | null; createdAt: string }>;
  barImports: Array<{ id: string; symbol: string; timeframe: string; accepted: number; rejected: number; createdAt: string }>;
}
interface ActionResult {
  detail: string;
}
interface ActionFlags {
  run?: string;
  reason: string;
  json?: boolean;
}

const jsonOut = (value: unknown) => print(JSON.stringify(value, null, 2));
const KINDS = ['workflow', 'notification', 'bar-import'] as const;

/** `capacity`, `dead-letters list|retry|resolve`, `schedules list|pause|resume|trigger`, `settings reload` and `backups` (admin key). */
export function registerMaintenanceCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('capacity')
    .description('task-queue backlogs and wait to start, worker CPU and memory, and what to do (admin key)')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<Capacity>('/v1/maintenance/capacity');
      if (opts.json) return jsonOut(r);
      print(table(r.queues.map((q) => ({ queue: q.queue, backlog: q.backlog, waitS: Math.round(q.backlogAgeMs / 100) / 10, pollers: q.pollers, workers: q.workers.length }))));
      for (const w of r.queues.flatMap((q) => q.workers.map((x) => ({ ...x, queue: q.queue })))) {
        print(`  ${w.queue} ${w.identity}: ${w.cpuPct === null ? '?' : w.cpuPct} % CPU, ${w.rssBytes === null ? '?' : Math.round(w.rssBytes / 2 ** 20)} MB`);
      }
      for (const a of r.advice) print(`advice: ${a}`);
    });

  const dead = program.command('dead-letters').description('what failed for good: workflows, notifications, imports that skipped bars (admin key)');
  dead
    .command('list')
    .description('failed and timed-out workflows, dead notifications and imports with rejected bars, newest first')
    .option('--limit <n>', 'how many of each', numberArg('--limit', { min: 1, integer: true }), 50)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { limit: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<DeadLetters>('/v1/maintenance/dead-letters', { limit: opts.limit });
      if (opts.json) return jsonOut(r);
      print(`workflows (${r.workflows.length})`);
      if (r.workflows.length) print(table(r.workflows.map((w) => ({ id: w.workflowId, run: w.runId, type: w.type, status: w.status, closed: w.closedAt, retry: w.retryable ? 'yes' : 'resolve only' }))));
      print(`notifications (${r.notifications.length})`);
      if (r.notifications.length) print(table(r.notifications.map((n) => ({ id: n.id, kind: n.kind, subject: n.subject, attempts: n.attempts, error: n.lastError }))));
      print(`imports with rejected bars (${r.barImports.length})`);
      if (r.barImports.length) print(table(r.barImports.map((b) => ({ id: b.id, symbol: b.symbol, timeframe: b.timeframe, accepted: b.accepted, rejected: b.rejected, at: b.createdAt }))));
    });
  for (const action of ['retry', 'resolve'] as const) {
    dead
      .command(action)
      .description(action === 'retry' ? 'retry one entry (audited): a notification gets fresh attempts, a backtest or maintenance run runs again' : 'resolve one entry (audited): it leaves the view')
      .addArgument(new Argument('<kind>', 'workflow, notification or bar-import').choices([...KINDS]))
      .argument('<id>', 'notification id, import id, or workflow id (with --run)')
      .option('--run <runId>', 'the run of a workflow entry')
      .requiredOption('--reason <text>', 'why')
      .option('--json', 'print the answer as JSON')
      .action(async (kind: string, id: string, opts: ActionFlags) => {
        const r = await clientFrom(globals()).post<ActionResult>(`/v1/maintenance/dead-letters/${action}`, { kind, id, runId: opts.run, reason: opts.reason });
        if (opts.json) return jsonOut(r);
        print(r.detail);
      });
  }

  interface ScheduleView {
    id: string;
    workflowType: string;
    exists: boolean;
    paused: boolean;
    note: string | null;
    nextRuns: string[];
    recentRuns: Array<{ workflowId: string }>;
  }
  const scheduleRow = (x: ScheduleView) => ({ id: x.id, workflow: x.workflowType, state: !x.exists ? 'not created' : x.paused ? 'paused' : 'active', next: x.nextRuns[0] ?? '', last: x.recentRuns.at(-1)?.workflowId ?? '', note: x.note ?? '' });
  const schedules = program.command('schedules').description("the platform's Temporal Schedules (admin key)");
  schedules
    .command('list')
    .description('each Schedule: active or paused, next run, last run')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ schedules: ScheduleView[] }>('/v1/maintenance/schedules');
      if (opts.json) return jsonOut(r);
      print(table(r.schedules.map(scheduleRow)));
    });
  for (const act of ['pause', 'resume', 'trigger'] as const) {
    schedules
      .command(act)
      .description(act === 'trigger' ? 'run its workflow now (audited)' : `${act} it (audited; the reason becomes its note)`)
      .argument('<id>', 'schedule id, e.g. maintenance-backup')
      .requiredOption('--reason <text>', 'why')
      .option('--json', 'print the answer as JSON')
      .action(async (id: string, opts: { reason: string; json?: boolean }) => {
        const r = await clientFrom(globals()).post<ScheduleView>(`/v1/maintenance/schedules/${encodeURIComponent(id)}/${act}`, { reason: opts.reason });
        if (opts.json) return jsonOut(r);
        print(table([scheduleRow(r)]));
      });
  }

  interface SettingsReload {
    id: string;
    ok: boolean;
    listening: number;
    missing: number;
    workers: Array<{ identity: string; ok: boolean; changed: string[]; problems: string[] }>;
  }
  program
    .command('settings')
    .description("the workers' reloadable settings (admin key)")
    .command('reload')
    .description('every running worker reloads SETTINGS_FILE (audited): prints what changed, or each refused value by name (then exit 1)')
    .option('--reason <text>', 'why (kept in the audit row)', 'settings reload from the CLI')
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { reason: string; json?: boolean }) => {
      const r = await clientFrom(globals()).post<SettingsReload>('/v1/maintenance/settings/reload', { reason: opts.reason });
      if (opts.json) jsonOut(r);
      else {
        for (const w of r.workers) {
          if (!w.ok) print(`${w.identity}: refused, its previous settings stay in force\n${w.problems.map((p) => `  ${p}`).join('\n')}`);
          else print(`${w.identity}: reloaded, ${w.changed.length ? `changed ${w.changed.join(', ')}` : 'nothing changed'}`);
        }
        if (r.missing) print(`${r.missing} of ${r.listening} listening workers did not answer (send it again, or SIGHUP them)`);
        if (r.listening === 0) print('no worker is listening: nothing was reloaded');
      }
      if (!r.ok) throw new CliError(`settings reload ${r.id} ${r.workers.some((w) => !w.ok) ? 'refused by a worker' : 'not answered by every worker'}`);
    });

  program
    .command('backups')
    .description('backups made by the backup Schedule, newest first (admin key)')
    .option('--limit <n>', 'how many', numberArg('--limit', { min: 1, integer: true }), 20)
    .option('--json', 'print the answer as JSON')
    .action(async (opts: { limit: number; json?: boolean }) => {
      const r = await clientFrom(globals()).get<{ backups: Array<{ id: string; status: string; bytes: number | null; tables: number; rows: number; startedAt: string; file: string }> }>('/v1/maintenance/backups', { limit: opts.limit });
      if (opts.json) return jsonOut(r);
      print(table(r.backups.map((b) => ({ id: b.id, status: b.status, MB: b.bytes === null ? '' : Math.round(b.bytes / 1e5) / 10, tables: b.tables, rows: b.rows, at: b.startedAt, file: b.file }))));
    });
}
