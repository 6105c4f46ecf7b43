import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BrokerGuardStatusSchema, listBrokerGuardStatuses } from '../../../brokers/guard';
import { configSecrets } from '../../../platform/config';
import { listLiveWorkers } from '../../../platform/heartbeat';
import { withTimeout } from '../../../platform/timeout';
import { temporalCall, type InflightCalls } from '../../../services/temporal-call';
import { TASK_QUEUES } from '../../../workflows/task-queues';
import { ROLES_ANY } from '../auth';
import type { ApiDeps } from '../deps';
import { ErrorBodySchema } from '../errors';

const CHECK_TIMEOUT_MS = 2_000;

const CheckSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
const DEPENDENCIES = ['temporal', 'postgres', 'redis', 'workers'] as const;

export const HEALTH_STATUSES = ['up', 'degraded', 'down'] as const;

const StatusSchema = z
  .enum(HEALTH_STATUSES)
  .describe('up: every check passed; degraded: Redis is down or a queue has no live worker (work waits or runs on fallbacks); down: Postgres or Temporal is unreachable');

/** Without a key: the status alone. Dependency errors, broker state and versions need a key. */
const HealthSchema = z.object({
  status: StatusSchema,
  down: z
    .array(z.enum(DEPENDENCIES))
    .optional()
    .describe('with a key: the failing checks; "workers" only when Redis answered and a queue has no live worker'),
  checks: z
    .object({
      temporal: CheckSchema,
      postgres: CheckSchema,
      redis: CheckSchema,
      workers: z.object({ cpu: z.number().int(), io: z.number().int(), ok: z.boolean(), error: z.string().optional() }),
    })
    .optional()
    .describe('with a key: each check, its latency and error'),
  // Reported, not folded into status: a broker outage must not make an orchestrator restart the API.
  brokers: z
    .object({ guards: z.array(BrokerGuardStatusSchema), error: z.string().optional() })
    .optional()
    .describe('with a key: the shared broker circuit breakers and rate limits (open: no calls go out until the cooldown ends)'),
  version: z.string().optional().describe('with a key: the API version'),
});
export type Health = z.infer<typeof HealthSchema>;
type Dependency = (typeof DEPENDENCIES)[number];

/** Postgres or Temporal down: nothing can be started or read. Redis or workers: work waits or uses fallbacks. */
export function healthStatus(down: readonly Dependency[]): Health['status'] {
  if (down.includes('postgres') || down.includes('temporal')) return 'down';
  return down.length ? 'degraded' : 'up';
}

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
        // The key is optional here: without one the answer is the status alone; a wrong key is still a 401.
        config: { roles: ROLES_ANY, authOptional: true },
        schema: {
          summary: 'Health of Temporal, Postgres, Redis and the workers: the status without a key, every check with any key',
          tags: ['health'],
          security: [{}, { bearer: [] }],
          response: {
            200: HealthSchema.describe('status up'),
            401: ErrorBodySchema.describe('an unknown API key (send none for the status alone)'),
            503: HealthSchema.describe('status degraded or down'),
          },
        },
      },
      async (request, reply) => {
        let workersError: string | undefined;
        let guardsError: string | undefined;
        const [temporal, postgres, redis, workers, guards] = await Promise.all([
          check('temporal', () => temporalCall({ temporal: deps.temporal, inflight }, 'temporal', CHECK_TIMEOUT_MS, () => deps.temporal.workflowService.getSystemInfo({}))),
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
        const down: Dependency[] = [];
        if (!temporal.ok) down.push('temporal');
        if (!postgres.ok) down.push('postgres');
        if (!redis.ok) down.push('redis');
        else if (!workerCheck.ok) down.push('workers');
        const status = healthStatus(down);
        const code = status === 'up' ? 200 : 503;
        if (!request.principal) return reply.code(code).send({ status });
        const body: Health = {
          status,
          down,
          checks: { temporal, postgres, redis, workers: workerCheck },
          brokers: { guards, ...(guardsError ? { error: guardsError } : {}) },
          version,
        };
        return reply.code(code).send(body);
      },
    );
  };
}
