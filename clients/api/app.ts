import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { installAuth } from './auth';
import { clientErrorHandler, frameworkErrors } from './client-errors';
import type { ApiDeps } from './deps';
import { installErrorHandling } from './errors';
import { InflightCalls } from '../../services/temporal-call';
import { installOperationIds } from './operation-ids';
import { installRouteTable } from './route-table';
import { approvalRoutes } from './routes/approvals';
import { approvalsPageRoutes } from './routes/approvals-page';
import { backtestRoutes } from './routes/backtests';
import { barCandleRoutes } from './routes/bar-candles';
import { barRoutes } from './routes/bars';
import { deploymentRoutes } from './routes/deployments';
import { healthRoutes } from './routes/health';
import { dailySummaryRoutes } from './routes/daily-summaries';
import { killSwitchRoutes } from './routes/kill-switch';
import { liquidationRoutes } from './routes/liquidations';
import { marketDataRoutes } from './routes/market-data';
import { maintenanceRoutes } from './routes/maintenance';
import { reconciliationRoutes } from './routes/reconciliation';
import { resultsPageRoutes } from './routes/results-page';
import { stressScanRoutes } from './routes/stress-scans';
import { tradingRoutes } from './routes/trading';

export const API_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/** JSON bodies up to 1 MiB; CSV imports have their own limit (MAX_IMPORT_BYTES). */
const JSON_BODY_LIMIT = 1024 * 1024;

/** Builds the API (not listening): zod-validated routes, bearer auth with roles, uniform errors, OpenAPI at /docs. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: JSON_BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // while closing, requests get the usual 503 error body from an onRequest hook (errors.ts), not Fastify's own
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler,
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // The stock JSON parser (prototype-poisoning safe), except that an empty body means "no body".
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    json(request, body as string, done);
  });
  // Only JSON (and CSV on the import route) are accepted; text/plain elsewhere is a 415.
  app.removeContentTypeParser('text/plain');

  const routes = installRouteTable(app);
  installOperationIds(app);
  installErrorHandling(app, routes);
  installAuth(app, deps.config.API_KEYS);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'durable-trader API',
        description: 'Backtests, bar imports and trading workflows on Temporal. Authenticate with `Authorization: Bearer <api key>`.',
        version: API_VERSION,
        license: { name: 'MIT', url: 'https://spdx.org/licenses/MIT.html' },
      },
      // relative: the API serves its own document, so clients resolve operations against where they fetched it
      servers: [{ url: '/', description: 'this API' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key from API_KEYS' } } },
      tags: [
        { name: 'health', description: 'liveness of the platform' },
        { name: 'bars', description: 'market data' },
        { name: 'backtests', description: 'backtest jobs' },
        { name: 'stress-scans', description: 'parameter scans, walk-forward optimization, Monte Carlo and black-swan tests' },
        { name: 'deployments', description: 'live and paper trading runtimes' },
        { name: 'trading', description: 'orders, fills and positions' },
        { name: 'kill-switch', description: 'halt trading globally, per account or per deployment' },
        { name: 'reconciliation', description: 'broker orders and fills the ledger does not know' },
        { name: 'liquidations', description: 'end-of-day liquidation and daily summaries' },
        { name: 'approvals', description: 'trades put to human approvers' },
        { name: 'maintenance', description: 'capacity, dead letters and backups (admin)' },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // Closing waits (up to 5 s) for Temporal calls of handlers still running, before the caller closes the connection.
  const inflight = new InflightCalls();
  app.addHook('onClose', async () => inflight.drain(5_000));

  await app.register(healthRoutes(deps, API_VERSION, inflight));
  await app.register(barRoutes(deps));
  await app.register(backtestRoutes(deps, inflight));
  await app.register(stressScanRoutes(deps, inflight));
  await app.register(deploymentRoutes(deps, inflight));
  await app.register(marketDataRoutes(deps, inflight));
  await app.register(tradingRoutes(deps));
  await app.register(killSwitchRoutes(deps));
  await app.register(liquidationRoutes(deps, inflight));
  await app.register(dailySummaryRoutes(deps));
  await app.register(reconciliationRoutes(deps));
  await app.register(maintenanceRoutes(deps, inflight));
  await app.register(approvalRoutes(deps, inflight));
  await app.register(approvalsPageRoutes());
  await app.register(barCandleRoutes(deps.db));
  await app.register(resultsPageRoutes());
  return app;
}
