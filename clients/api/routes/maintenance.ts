import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listBackups } from '../../../db/sql/backups';
import { capacityReport } from '../../../services/capacity';
import { listDeadLetters, resolveDeadLetter, retryDeadLetter } from '../../../services/dead-letters';
import type { InflightCalls } from '../../../services/temporal-call';
import { actOnSchedule, listSchedules } from '../../../services/schedules';
import { reloadWorkerSettings } from '../../../services/settings-reload';
import { platformSchedules } from '../../../platform/schedules';
import type { ApiDeps } from '../deps';
import { principalOf, ROLES_ADMIN } from '../auth';
import { errorResponses } from '../errors';
import { iso } from '../schemas';

const LoadSchema = z.object({ backlog: z.number(), backlogAgeMs: z.number() });
const CapacitySchema = z.object({
  at: z.string(),
  queues: z.array(
    z.object({
      queue: z.enum(['cpu', 'io']),
      backlog: z.number().describe('tasks waiting for a worker (workflow and activity tasks)'),
      backlogAgeMs: z.number().describe('how long the oldest waiting task has waited: the schedule-to-start latency now'),
      pollers: z.number(),
      workflowTasks: LoadSchema,
      activityTasks: LoadSchema,
      workers: z.array(z.object({ identity: z.string(), cpuPct: z.number().nullable(), rssBytes: z.number().nullable(), hostMemBytes: z.number().nullable() })),
    }),
  ),
  advice: z.array(z.string()).describe('one line per finding, each naming what to do'),
});

const DeadLettersSchema = z.object({
  workflows: z.array(z.object({ workflowId: z.string(), runId: z.string(), type: z.string(), status: z.string(), closedAt: z.string().nullable(), retryable: z.boolean() })),
  notifications: z.array(z.object({ id: z.string(), kind: z.string(), severity: z.string(), subject: z.string(), attempts: z.number(), lastError: z.string().nullable(), createdAt: z.string() })),
  barImports: z.array(z.object({ id: z.string(), symbol: z.string(), timeframe: z.string(), accepted: z.number(), rejected: z.number(), importedBy: z.string(), createdAt: z.string() })),
});

const SettingsReloadSchema = z.object({
  id: z.string(),
  ok: z.boolean().describe('every listening worker answered and none refused'),
  listening: z.number().describe('workers subscribed when the command went out'),
  workers: z.array(z.object({ identity: z.string(), ok: z.boolean(), changed: z.array(z.string()), problems: z.array(z.string()).describe('one per refused value, naming its variable') })),
  missing: z.number().describe('listening workers that did not answer within 5 s'),
});

const LimitQuerySchema = z.strictObject({
  limit: z.coerce.number({ error: 'limit must be a number' }).int({ error: 'limit must be an integer' }).min(1, { error: 'limit is at least 1' }).max(200, { error: 'limit is at most 200' }).default(50),
});

const TEXT_ID = /^[\w.:@/-]{1,200}$/;
const ActionBodySchema = z
  .strictObject({
    kind: z.enum(['workflow', 'notification', 'bar-import'], { error: 'kind must be one of: workflow, notification, bar-import' }),
    id: z.string({ error: 'id must be a string' }).regex(TEXT_ID, { error: 'id is 1 to 200 of letters, digits and . _ : @ / -' }),
    runId: z.uuid({ error: 'runId must be a UUID' }).optional(),
    reason: z.string({ error: 'reason must be a string' }).trim().min(1, { error: 'reason is required: say why' }).max(500, { error: 'reason is at most 500 characters' }),
  })
  .refine((b) => b.kind !== 'workflow' || b.runId !== undefined, { error: 'runId is required for a workflow', path: ['runId'] })
  .refine((b) => b.kind === 'workflow' || b.runId === undefined, { error: 'runId is only for a workflow', path: ['runId'] });

const ActionResultSchema = z.object({ kind: z.string(), id: z.string(), action: z.enum(['retried', 'resolved']), detail: z.string(), newRunId: z.string().optional() });

const BackupsSchema = z.object({
  backups: z.array(z.object({ id: z.string(), file: z.string(), bytes: z.number().nullable(), status: z.string(), tables: z.number(), rows: z.number(), error: z.string().nullable(), startedAt: z.string(), finishedAt: z.string().nullable() })),
});

const ScheduleSchema = z.object({
  id: z.string(),
  workflowType: z.string(),
  summary: z.string(),
  exists: z.boolean().describe('false until an IO worker has started since the entry was added'),
  paused: z.boolean(),
  note: z.string().nullable(),
  nextRuns: z.array(z.string()),
  recentRuns: z.array(z.object({ scheduledAt: z.string(), workflowId: z.string() })),
});
const ScheduleParamsSchema = z.strictObject({ id: z.string().regex(/^[a-z0-9-]{1,100}$/, { error: 'a schedule id is lower-case letters, digits and -' }) });
const ReasonBodySchema = z.strictObject({
  reason: z.string({ error: 'reason must be a string' }).trim().min(1, { error: 'reason is required: say why' }).max(500, { error: 'reason is at most 500 characters' }),
});


/** Maintenance, admin only: the capacity report, the dead-letter view with retry and resolve (audited), backups. */
export function maintenanceRoutes(deps: ApiDeps, inflight: InflightCalls): FastifyPluginAsyncZod {
  const { db, redis, temporal } = deps;
  const doc = { tags: ['maintenance'], security: [{ bearer: [] }] };
  return async (app) => {
    app.get(
      '/v1/maintenance/capacity',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          ...doc,
          summary: 'Task-queue backlogs and wait to start (Temporal), worker CPU and memory (heartbeats), and what to do about them',
          response: { 200: CapacitySchema, ...errorResponses(401, 403, 503) },
        },
      },
      async () => capacityReport({ temporal, redis, inflight }),
    );

    app.get(
      '/v1/maintenance/dead-letters',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          ...doc,
          summary: 'What failed for good: failed and timed-out workflows, dead notifications, imports that skipped invalid bars (newest first; retried and resolved ones left out)',
          querystring: LimitQuerySchema,
          response: { 200: DeadLettersSchema, ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const d = await listDeadLetters({ db, temporal, inflight }, request.query.limit);
        return {
          workflows: d.workflows,
          notifications: d.notifications.map((n) => ({ ...n, createdAt: iso(n.createdAt)! })),
          barImports: d.barImports.map((b) => ({ ...b, createdAt: iso(b.createdAt)! })),
        };
      },
    );

    for (const action of ['retry', 'resolve'] as const) {
      app.post(
        `/v1/maintenance/dead-letters/${action}`,
        {
          config: { roles: ROLES_ADMIN },
          schema: {
            ...doc,
            summary:
              action === 'retry'
                ? 'Retry an entry (audited): a dead notification gets fresh attempts; a failed backtest or maintenance run runs again from the start (a Temporal reset; the job row goes back to queued)'
                : 'Resolve an entry (audited): it leaves the view, the thing itself is left as it is',
            body: ActionBodySchema,
            response: { 200: ActionResultSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
          },
        },
        async (request) => {
          const { kind, id, runId, reason } = request.body;
          const target = { kind, id, runId, reason, by: principalOf(request).name };
          const done = action === 'retry' ? await retryDeadLetter({ db, temporal, inflight, log: request.log }, target) : await resolveDeadLetter({ db, temporal, inflight, log: request.log }, target);
          request.log.warn({ kind, id, runId, action, by: target.by, reason }, `dead letter ${action}`);
          return { kind, id, action: action === 'retry' ? ('retried' as const) : ('resolved' as const), detail: done.detail, ...(done.newRunId ? { newRunId: done.newRunId } : {}) };
        },
      );
    }

    const schedules = { db, temporal, inflight, schedules: platformSchedules(deps.config) };
    app.get(
      '/v1/maintenance/schedules',
      {
        config: { roles: ROLES_ADMIN },
        schema: { ...doc, summary: 'The platform\'s Temporal Schedules: paused or not, next and recent runs', response: { 200: z.object({ schedules: z.array(ScheduleSchema) }), ...errorResponses(401, 403, 503) } },
      },
      async () => ({ schedules: await listSchedules(schedules) }),
    );
    for (const act of ['pause', 'resume', 'trigger'] as const) {
      app.post(
        `/v1/maintenance/schedules/:id/${act}`,
        {
          config: { roles: ROLES_ADMIN },
          schema: {
            ...doc,
            summary: act === 'trigger' ? 'Run a platform Schedule\'s workflow now (audited)' : `${act === 'pause' ? 'Pause' : 'Resume'} a platform Schedule (audited; the reason becomes its note)`,
            params: ScheduleParamsSchema,
            body: ReasonBodySchema,
            response: { 200: ScheduleSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
          },
        },
        async (request) => {
          const by = principalOf(request).name;
          const view = await actOnSchedule(schedules, request.params.id, act, request.body.reason, by);
          request.log.warn({ schedule: request.params.id, act, by, reason: request.body.reason }, `schedule ${act}`);
          return view;
        },
      );
    }

    app.post(
      '/v1/maintenance/settings/reload',
      {
        config: { roles: ROLES_ADMIN },
        schema: {
          ...doc,
          summary: 'Every running worker reloads its settings from SETTINGS_FILE (audited); a refused value leaves that worker\'s previous settings in force',
          body: ReasonBodySchema,
          response: { 200: SettingsReloadSchema, ...errorResponses(400, 401, 403, 413, 415, 503) },
        },
      },
      async (request) => {
        const by = principalOf(request).name;
        const result = await reloadWorkerSettings({ db, redis }, by, request.body.reason);
        request.log.warn({ by, ok: result.ok, listening: result.listening, missing: result.missing }, 'settings reload requested');
        return result;
      },
    );

    app.get(
      '/v1/maintenance/backups',
      {
        config: { roles: ROLES_ADMIN },
        schema: { ...doc, summary: 'Backups made by backupWorkflow, newest first (rotated ones say so)', querystring: LimitQuerySchema, response: { 200: BackupsSchema, ...errorResponses(400, 401, 403, 503) } },
      },
      async (request) => ({
        backups: (await listBackups(db, request.query.limit)).map((b) => ({
          id: b.id, file: b.file, bytes: b.bytes, status: b.status, tables: Object.keys(b.rowCounts).length, rows: Object.values(b.rowCounts).reduce((a, n) => a + n, 0),
          error: b.error, startedAt: iso(b.startedAt)!, finishedAt: iso(b.finishedAt),
        })),
      }),
    );
  };
}
