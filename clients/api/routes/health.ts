import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BrokerGuardStatusSchema, listBrokerGuardStatuses } from '../../../brokers/guard';
import { configSecrets } from '../../../workers/config';
import { listLiveWorkers } from '../../../workers/heartbeat';
import { TASK_QUEUES } from '../../../workflows/task-queues';
import type { ApiDeps } from '../app';
import type { InflightCalls } from '../inflight';
import { withTimeout } from '../timeout';

const CHECK_TIMEOUT_MS = 2_000;

const CheckSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
const DEPENDENCIES = ['temporal', 'postgres', 'redis', 'workers'] as const;

const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  /** what makes it degraded, e.g. ["postgres"]; empty when ok */
  down: z.array(z.enum(DEPENDENCIES)).describe('the failing checks; "workers" only when Redis answered and a queue has no live worker'),
  checks: z.object({
    temporal: CheckSchema,
    postgres: CheckSchema,
    redis: CheckSchema,
    workers: z.object({ cpu: z.number().int(), io: z.number().int(), ok: z.boolean(), error: z.string().optional() }),
  }),
  // Reported, not folded into status: a broker outage must not make an orchestrator restart the API.
  brokers: z
    .object({ guards: z.array(BrokerGuardStatusSchema), error: z.string().optional() })
    .describe('the shared broker circuit breakers and rate limits (open: no calls go out until the cooldown ends)'),
  version: z.string(),
});
export type Health = z.infer<typeof HealthSchema>;

type Check = z.infer<typeof CheckSchema>;

/** Health of the API's dependencies; every check is bounded by a timeout, so this never hangs. */
export function healthRoutes(deps: ApiDeps, version: string, inflight: InflightCalls): FastifyPluginAsyncZod {
  const secrets = configSecrets(deps.config);
  // Error texts from drivers may quote a URL; never let a password through.
  const scrub = (message: string) => secrets.reduce((m, s) => m.split(s).join('***'), message).slice(0, 300);

  async function check(name: string, fn: () => Promise<unknown>): Promise<Check> {
    const started = performance.now();
    try {
      await withTimeout(fn(), CHECK_TIMEOUT_MS, `${name} did not answer within ${CHECK_TIMEOUT_MS} ms`);
      return { ok: true, latencyMs: Math.round(performance.now() - started) };
    } catch (err) {
      return { ok: false, latencyMs: Math.round(performance.now() - started), error: scrub((err as Error).message ?? String(err)) };
    }
  }

  return async (app) => {
    app.get(
      '/health',
      {
        schema: {
          summary: 'Health of Temporal, Postgres, Redis and the workers (no authentication)',
          tags: ['health'],
          response: { 200: HealthSchema.describe('all dependencies are healthy'), 503: HealthSchema.describe('at least one dependency is unhealthy') },
        },
      },
      async (_request, reply) => {
        let workersError: string | undefined;
        let guardsError: string | undefined;
        const [temporal, postgres, redis, workers, guards] = await Promise.all([
          check('temporal', () =>
            inflight.track(deps.temporal.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => deps.temporal.workflowService.getSystemInfo({}))),
          ),
          check('postgres', () => deps.db.query('SELECT 1')),
          check('redis', () => deps.redis.ping()),
          withTimeout(listLiveWorkers(deps.redis), CHECK_TIMEOUT_MS, 'listing workers timed out').catch((err: Error) => {
            workersError = scrub(err.message);
            return [];
          }),
          withTimeout(listBrokerGuardStatuses(deps.redis), CHECK_TIMEOUT_MS, 'reading broker guards timed out').catch((err: Error) => {
            guardsError = scrub(err.message);
            return [];
          }),
        ]);
        const cpu = workers.filter((w) => w.queue === TASK_QUEUES.cpu).length;
        const io = workers.filter((w) => w.queue === TASK_QUEUES.io).length;
        // Without Redis the heartbeats cannot be read: the workers are unknown, and Redis is what is down.
        if (!redis.ok) workersError = 'unknown: worker heartbeats live in redis, which is down';
        const workerCheck = { cpu, io, ok: cpu > 0 && io > 0 && !workersError, ...(workersError ? { error: workersError } : {}) };
        const down: Health['down'] = [];
        if (!temporal.ok) down.push('temporal');
        if (!postgres.ok) down.push('postgres');
        if (!redis.ok) down.push('redis');
        else if (!workerCheck.ok) down.push('workers');
        const body: Health = {
          status: down.length ? 'degraded' : 'ok',
          down,
          checks: { temporal, postgres, redis, workers: workerCheck },
          brokers: { guards, ...(guardsError ? { error: guardsError } : {}) },
          version,
        };
        return reply.code(down.length ? 503 : 200).send(body);
      },
    );
  };
}
