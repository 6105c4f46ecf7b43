/**
 * The built-in paper broker as a fastify app that speaks Alpaca's Trading API v2 JSON, so the Alpaca
 * adapter (and Alpaca's own SDKs) are its clients. State lives in Postgres (see engine.ts); faults are
 * injected per request from a seeded PRNG (see faults.ts).
 *
 * Alpaca routes (APCA-API-KEY-ID / APCA-API-SECRET-KEY required; any pair unless `auth` is configured):
 *   POST   /v2/orders                          DELETE /v2/orders/:id        DELETE /v2/orders (cancel all, 207)
 *   GET    /v2/orders                          GET    /v2/orders/:id
 *   GET    /v2/orders:by_client_order_id       GET    /v2/account           GET    /v2/account/activities/FILL
 *   GET    /v2/positions, /v2/positions/:symbol_or_asset_id     (routes-positions.ts)
 *   DELETE /v2/positions/:symbol_or_asset_id (close, ?qty= | ?percentage=), DELETE /v2/positions (close all, 207)
 *   GET    /v2/clock, /v2/calendar                              (routes-market.ts)
 * Admin routes (no keys; answered only to loopback clients, 404 to anyone else):
 *   POST /admin/prices {SYMBOL: price, ...} (?asOf=)   POST /admin/tick        POST /admin/end-of-day
 *   POST /admin/faults {seed, reject, ...}     GET  /admin/faults      GET  /admin/stats
 *   POST /admin/config {partialFillSlices}     POST /admin/reset {cash?}       POST|GET /admin/clock
 *   GET  /health (open)
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Pool } from 'pg';
import { z } from 'zod';
import { MAX_CLIENT_ORDER_ID_LENGTH, ORDER_SIDES, ORDER_TYPES, TIMES_IN_FORCE } from '../port';
import { PaperEngine, type NewOrder, type SubmitResult } from './engine';
import { FaultConfigSchema, FaultInjector } from './faults';
import { errorBody, HttpError, isoTime, parse, positiveDecimal, sendError, symbol, tooManyRequests, UUID } from './http';
import { accountJson, fillJson, orderJson } from './json';
import { registerMarketRoutes } from './routes-market';
import { registerPositionRoutes, type Answer } from './routes-positions';
import * as sql from './sql';

export interface PaperBrokerOptions {
  /** Postgres holding the paper_* tables (migration 0002); or pass `pool` */
  databaseUrl?: string;
  /** a pool owned by the caller (not closed with the app) */
  pool?: Pool;
  /** the paper account this app serves; default 'default' */
  account?: string;
  /** cash of a new account (and after a reset without `cash`); default 100 000 */
  initialCash?: number;
  /** slices per order (1 = fill at once); default 1 */
  partialFillSlices?: number;
  /** when set, only this key pair is accepted (401 without keys, 403 with wrong ones) */
  auth?: { keyId: string; secret: string };
  logger?: FastifyBaseLogger;
  now?: () => Date;
}

export interface PaperBrokerState {
  engine: PaperEngine;
  faults: FaultInjector;
  counters: PaperCounters;
}

export interface PaperCounters {
  submitRequests: number;
  accepted: number;
  /** 422 "client_order_id must be unique" answers */
  duplicateClientOrderIds: number;
  /** orders created under executeThenTimeout, whose answer was then held */
  executedThenHeld: number;
  /** of those, answers the client had given up on (closed its connection) by the end of the hold */
  heldAnswersLost: number;
  /** of those, answers sent on a connection still open at the end of the hold (the client waited them out); the rest are still held */
  heldAnswersDelivered: number;
  rejectedBuyingPower: number;
  rejectedNoPrice: number;
  rejectedInvalid: number;
}

export type PaperBrokerApp = FastifyInstance & { paper: PaperBrokerState };

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const OPEN_ROUTES = new Set(['/health']);

const OrderBodySchema = z
  .object({
    symbol,
    qty: positiveDecimal.optional(),
    notional: z.unknown().optional(),
    side: z.enum(ORDER_SIDES, { error: 'side must be buy or sell' }),
    type: z.enum(ORDER_TYPES, { error: 'the paper broker supports market and limit orders' }),
    time_in_force: z.enum(TIMES_IN_FORCE, { error: 'the paper broker supports time_in_force day, gtc and ioc' }),
    limit_price: positiveDecimal.nullish(),
    client_order_id: z.string().min(1).max(MAX_CLIENT_ORDER_ID_LENGTH, `client_order_id must be at most ${MAX_CLIENT_ORDER_ID_LENGTH} characters`).optional(),
    extended_hours: z.boolean().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.notional !== undefined && b.notional !== null) ctx.addIssue({ code: 'custom', path: ['notional'], message: 'notional orders are not supported by the paper broker' });
    if (b.qty === undefined) ctx.addIssue({ code: 'custom', path: ['qty'], message: 'qty is required' });
    if (b.type === 'limit' && (b.limit_price === undefined || b.limit_price === null)) ctx.addIssue({ code: 'custom', path: ['limit_price'], message: 'limit_price is required for limit orders' });
    if (b.type === 'market' && b.limit_price !== undefined && b.limit_price !== null) ctx.addIssue({ code: 'custom', path: ['limit_price'], message: 'market orders take no limit_price' });
  });

const OrderListQuerySchema = z.object({
  status: z.enum(['open', 'closed', 'all']).default('open'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  after: isoTime.optional(),
  until: isoTime.optional(),
  direction: z.enum(['asc', 'desc']).default('desc'),
  symbols: z.string().optional(),
  side: z.enum(ORDER_SIDES).optional(),
});

const FillListQuerySchema = z.object({
  after: isoTime.optional(),
  until: isoTime.optional(),
  direction: z.enum(['asc', 'desc']).default('desc'),
  page_size: z.coerce.number().int().min(1).max(100).default(100),
  page_token: z.string().min(1).optional(),
});

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Builds the paper broker (not listening). The account is created on `ready()` if it does not exist. */
export function createPaperBroker(opts: PaperBrokerOptions): PaperBrokerApp {
  if (!opts.pool && !opts.databaseUrl) throw new Error('createPaperBroker needs databaseUrl or pool');
  const ownPool = !opts.pool;
  // Idle connections outlive a bar period (pg's default closes them after 10 s): a close's burst finds them open, caches warm.
  const pool = opts.pool ?? new Pool({ connectionString: opts.databaseUrl, max: 10, idleTimeoutMillis: 10 * 60_000 });
  if (ownPool) {
    // A Postgres restart must not kill the broker: a lost connection fails its request (a 5xx) and the pool reconnects.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
  }
  const account = opts.account ?? 'default';
  const initialCash = opts.initialCash ?? 100_000;
  const engine = new PaperEngine(pool, account, { partialFillSlices: opts.partialFillSlices ?? 1, now: opts.now });
  const faults = new FaultInjector();
  const now = opts.now ?? (() => new Date());
  const counters: PaperCounters = { submitRequests: 0, accepted: 0, duplicateClientOrderIds: 0, executedThenHeld: 0, heldAnswersLost: 0, heldAnswersDelivered: 0, rejectedBuyingPower: 0, rejectedNoPrice: 0, rejectedInvalid: 0 };

  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // One line per request is noise at 200 orders a second; order events are logged at debug instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
    // Close like a crash: drop every connection, including requests held by timeout faults (a client
    // that gave up on a held request can leave its connection counted as busy, which would stall close()).
    forceCloseConnections: true,
  }) as unknown as PaperBrokerApp;
  app.decorate('paper', { engine, faults, counters });

  // Requests held by timeout faults end early when the app closes, so close() never waits for them.
  const holds = new Set<() => void>();
  const hold = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        holds.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      holds.add(done);
    });
  app.addHook('preClose', async () => {
    for (const release of [...holds]) release();
  });
  app.addHook('onReady', async () => {
    await engine.init(initialCash);
  });
  app.addHook('onClose', async () => {
    if (ownPool) await pool.end();
  });

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (OPEN_ROUTES.has(path)) return;
    if (path.startsWith('/admin/')) {
      // Admin routes change prices, faults and state: loopback clients only, and invisible to others.
      if (!LOOPBACK.has(request.socket.remoteAddress ?? '')) return sendError(reply, 404, 'endpoint not found');
      return;
    }
    const keyId = request.headers['apca-api-key-id'];
    const secret = request.headers['apca-api-secret-key'];
    if (typeof keyId !== 'string' || !keyId || typeof secret !== 'string' || !secret) return sendError(reply, 401, 'request is not authorized');
    if (opts.auth && !(sameSecret(keyId, opts.auth.keyId) && sameSecret(secret, opts.auth.secret))) return sendError(reply, 403, 'forbidden.');
  });

  // Read faults: GET /v2/* only, from their own PRNG stream.
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'GET' || !request.url.startsWith('/v2/')) return;
    const fault = faults.nextReadFault();
    if (fault.kind === 'http5xx') return sendError(reply, 503, 'service unavailable (injected fault)');
    if (fault.kind === 'http429') return tooManyRequests(reply, faults.config.retryAfterMs);
    if (fault.kind === 'timeout') {
      await hold(faults.config.timeoutMs);
      return sendError(reply, 504, 'gateway timeout (injected fault)');
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.status, err.message, err.extra);
    const status = err.statusCode ?? 500;
    if (status < 500) return sendError(reply, status, status === 400 ? 'request body format is invalid' : err.message);
    request.log.error({ err: { message: err.message, stack: err.stack } }, 'paper broker request failed');
    return sendError(reply, 500, 'internal server error');
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, 404, 'endpoint not found'));

  app.get('/health', async () => ({ status: 'ok', account, pid: process.pid }));

  // ---- Alpaca v2 ----

  app.post('/v2/orders', async (request, reply) => {
    let body: z.infer<typeof OrderBodySchema>;
    try {
      body = parse(OrderBodySchema, request.body);
    } catch (err) {
      counters.rejectedInvalid++;
      throw err;
    }
    const order: NewOrder = {
      clientOrderId: body.client_order_id ?? randomUUID(),
      symbol: body.symbol,
      side: body.side,
      type: body.type,
      timeInForce: body.time_in_force,
      qty: body.qty!,
      limitPrice: body.limit_price ?? null,
    };
    return withFaults(request, reply, order.clientOrderId, async () => answerOf(await engine.submit(order), order.symbol));
  });

  /**
   * Runs a request that creates an order under the submit fault schedule (POST /v2/orders and
   * DELETE /v2/positions/{symbol}): one PRNG draw per request, then the injected fault or the real answer.
   */
  async function withFaults(request: FastifyRequest, reply: FastifyReply, clientOrderId: string, run: () => Promise<Answer>): Promise<FastifyReply> {
    counters.submitRequests++;
    const fault = faults.nextSubmitFault();
    // The hold is the arrival's too: faults changed or cleared meanwhile (a chaos drain clears them) do not change it.
    const { timeoutMs } = faults.config;
    request.log.debug({ clientOrderId, fault: fault.kind }, 'order submission');
    // Drawn on arrival, then delayed: concurrent slow submissions keep the faults of their arrival order.
    if (faults.config.submitLatencyMs > 0) await hold(faults.config.submitLatencyMs);
    switch (fault.kind) {
      case 'reject':
        return fault.status === 403
          ? sendError(reply, 403, 'insufficient buying power (injected fault)')
          : sendError(reply, 422, 'order rejected (injected fault)');
      case 'http5xx':
        return sendError(reply, fault.status, fault.status === 500 ? 'internal server error (injected fault)' : 'service unavailable (injected fault)');
      case 'http429':
        return tooManyRequests(reply, faults.config.retryAfterMs);
      case 'timeoutBeforeExecute':
        await hold(timeoutMs);
        return sendError(reply, 504, 'gateway timeout (injected fault)');
      case 'executeThenTimeout': {
        const answer = await run();
        // Only an execution can be followed by a lost answer: a refusal (e.g. the 422 for a resubmitted id) executed nothing.
        if (answer.created) {
          counters.executedThenHeld++;
          await hold(timeoutMs);
          if (request.raw.socket?.destroyed) counters.heldAnswersLost++;
          else counters.heldAnswersDelivered++;
        }
        return reply.code(answer.status).send(answer.body);
      }
      default: {
        const answer = await run();
        return reply.code(answer.status).send(answer.body);
      }
    }
  }

  /** The HTTP answer (and counters) for an order the engine created or refused. */
  function answerOf(result: SubmitResult, orderSymbol: string): Answer {
    switch (result.kind) {
      case 'created':
        counters.accepted++;
        return { status: 200, body: orderJson(result.order), created: true };
      case 'duplicate':
        // Alpaca's answer for a reused client order id: HTTP 422 {"code": 40010001, "message": "client_order_id must be unique"}.
        counters.duplicateClientOrderIds++;
        return { status: 422, body: errorBody(422, 'client_order_id must be unique'), created: false };
      case 'no_price':
        counters.rejectedNoPrice++;
        return { status: 422, body: errorBody(422, `no price for symbol ${orderSymbol}`), created: false };
      case 'insufficient_buying_power':
        counters.rejectedBuyingPower++;
        return { status: 403, body: errorBody(403, 'insufficient buying power', { buying_power: String(result.available), cost_basis: String(result.needed) }), created: false };
    }
  }

  app.get('/v2/orders', async (request) => {
    const q = parse(OrderListQuerySchema, request.query);
    const symbols = q.symbols ? q.symbols.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean) : undefined;
    const rows = await sql.listOrders(pool, account, { status: q.status, after: q.after, until: q.until, direction: q.direction, limit: q.limit, symbols, side: q.side });
    return rows.map(orderJson);
  });

  // "::" is fastify's escape for a literal ":" in a path (Alpaca's route is /v2/orders:by_client_order_id).
  app.get('/v2/orders::by_client_order_id', async (request, reply) => {
    const { client_order_id: clientOrderId } = parse(z.object({ client_order_id: z.string().min(1) }), request.query);
    const row = await sql.findOrderByClientId(pool, account, clientOrderId);
    // A lagging read (injected): a recent order is not visible yet, exactly like one that does not exist.
    const hidden = faults.nextLookupHides(row?.created_at.getTime(), now().getTime());
    if (!row || hidden) return sendError(reply, 404, 'order not found');
    return orderJson(row);
  });

  app.get<{ Params: { id: string } }>('/v2/orders/:id', async (request, reply) => {
    const row = UUID.test(request.params.id) ? await sql.findOrderById(pool, account, request.params.id) : undefined;
    if (!row) return sendError(reply, 404, 'order not found');
    return orderJson(row);
  });

  app.delete<{ Params: { id: string } }>('/v2/orders/:id', async (request, reply) => {
    if (!UUID.test(request.params.id)) return sendError(reply, 404, 'order not found');
    const result = await engine.cancel(request.params.id);
    if (result.kind === 'not_found') return sendError(reply, 404, 'order not found');
    if (result.kind === 'not_cancelable') return sendError(reply, 422, `order is already in "${result.status}" state`);
    return reply.code(204).send();
  });

  registerPositionRoutes(app, { engine, pool, now, withFaults, answerOf });
  registerMarketRoutes(app, { engine });

  app.get('/v2/account', async () => accountJson(account, await engine.accountView()));

  app.get('/v2/account/activities/FILL', async (request) => {
    const q = parse(FillListQuerySchema, request.query);
    const rows = await sql.listFills(pool, account, { after: q.after, until: q.until, direction: q.direction, pageSize: q.page_size, pageToken: q.page_token });
    return rows.map(fillJson);
  });

  // ---- admin (loopback only) ----

  app.post('/admin/prices', async (request) => {
    const prices = parse(z.record(z.string(), positiveDecimal), request.body, 400);
    const { asOf } = parse(z.object({ asOf: isoTime.optional() }), request.query, 400);
    const normalised: Record<string, number> = {};
    for (const [s, p] of Object.entries(prices)) normalised[parse(symbol, s, 400)] = p;
    return engine.setPrices(normalised, asOf);
  });

  app.post('/admin/tick', async () => engine.tick());

  app.post('/admin/end-of-day', async () => engine.endOfDay());

  app.post('/admin/faults', async (request) => {
    const cfg = parse(FaultConfigSchema, request.body, 400);
    faults.configure(cfg);
    return cfg;
  });

  app.get('/admin/faults', async () => faults.config);

  app.post('/admin/config', async (request) => {
    const cfg = parse(z.strictObject({ partialFillSlices: z.number().int().min(1).max(1000).optional() }), request.body, 400);
    if (cfg.partialFillSlices !== undefined) engine.partialFillSlices = cfg.partialFillSlices;
    return { account, partialFillSlices: engine.partialFillSlices };
  });

  app.get('/admin/stats', async () => ({
    account,
    ...(await sql.countState(pool, account)),
    ...counters,
    faults: { ...faults.counts },
    partialFillSlices: engine.partialFillSlices,
  }));

  app.post('/admin/reset', async (request) => {
    const body = parse(z.strictObject({ cash: z.number().nonnegative().optional() }), request.body, 400);
    await engine.reset(body.cash);
    faults.clear();
    for (const k of Object.keys(counters) as (keyof PaperCounters)[]) counters[k] = 0;
    return { account, reset: true };
  });

  return app;
}
