/**
 * Alpaca's position routes and cancel-all on the paper broker:
 *
 *   GET    /v2/positions                           every open position
 *   GET    /v2/positions/{symbol_or_asset_id}      one position; 404 "position does not exist"
 *   DELETE /v2/positions/{symbol_or_asset_id}      close it (?qty= or ?percentage=): the closing order, or
 *                                                  404 / 403 "insufficient qty available for order ..." / 422
 *   DELETE /v2/positions?cancel_orders=true        close all: 207 [{ symbol, status, body }]
 *   DELETE /v2/orders                              cancel all open orders: 207 [{ id, status, body }]
 *
 * Closing orders get a random client order id, as at Alpaca. Paper-broker extension: DELETE
 * /v2/positions/{symbol}?client_order_id= tags the closing order with the caller's id, so a ledger that
 * wrote that id first can look the order up and reconcile it (brokers/README.md, "Closing positions").
 * A single close runs under the submit fault schedule, like POST /v2/orders.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { MAX_CLIENT_ORDER_ID_LENGTH } from '../port';
import { cancelAllOrders, closeAllPositions, closePosition, type CloseResult } from './closing';
import type { PaperEngine, SubmitResult } from './engine';
import { errorBody, parse, positiveDecimal, queryBool, sendError, symbol, UUID } from './http';
import { assetId, orderJson, positionJson } from './json';
import * as sql from './sql';

export interface Answer {
  status: number;
  body: unknown;
  created: boolean;
}

export interface PositionRouteDeps {
  engine: PaperEngine;
  pool: Pool;
  now: () => Date;
  withFaults: (request: FastifyRequest, reply: FastifyReply, clientOrderId: string, run: () => Promise<Answer>) => Promise<FastifyReply>;
  answerOf: (result: SubmitResult, symbol: string) => Answer;
}

const CloseQuerySchema = z
  .object({
    qty: positiveDecimal.optional(),
    percentage: positiveDecimal.refine((p) => p <= 100, 'percentage must be at most 100').optional(),
    client_order_id: z.string().min(1).max(MAX_CLIENT_ORDER_ID_LENGTH, `client_order_id must be at most ${MAX_CLIENT_ORDER_ID_LENGTH} characters`).optional(),
  })
  .refine((q) => q.qty === undefined || q.percentage === undefined, 'qty and percentage cannot be used together');

type Params = { Params: { symbol: string } };

export function registerPositionRoutes(app: FastifyInstance, deps: PositionRouteDeps): void {
  const { engine, pool } = deps;

  /** The symbol a path names: a symbol, or the asset id of a held position (undefined when neither). */
  const symbolOf = async (ref: string): Promise<string | undefined> => {
    if (!UUID.test(ref)) return symbol.safeParse(ref).data;
    return (await sql.listPositions(pool, engine.account)).find((p) => assetId(p.symbol) === ref.toLowerCase())?.symbol;
  };

  app.get('/v2/positions', async () => (await sql.listPositions(pool, engine.account)).map(positionJson));

  app.get<Params>('/v2/positions/:symbol', async (request, reply) => {
    const sym = await symbolOf(request.params.symbol);
    const [pos] = sym ? await sql.listPositions(pool, engine.account, sym) : [];
    if (!pos) return sendError(reply, 404, 'position does not exist');
    return positionJson(pos);
  });

  app.delete<Params>('/v2/positions/:symbol', async (request, reply) => {
    const q = parse(CloseQuerySchema, request.query);
    const sym = await symbolOf(request.params.symbol);
    if (!sym) return sendError(reply, 404, 'position does not exist');
    const clientOrderId = q.client_order_id ?? randomUUID();
    return deps.withFaults(request, reply, clientOrderId, async () => {
      const result = await closePosition(engine, sym, { qty: q.qty, percentage: q.percentage, clientOrderId });
      return closeAnswer(result, sym);
    });
  });

  app.delete('/v2/positions', async (request, reply) => {
    const { cancel_orders: cancelOrders } = parse(z.object({ cancel_orders: queryBool.optional() }), request.query);
    const results = await closeAllPositions(engine, { cancelOrders: cancelOrders ?? false, clientOrderId: randomUUID, now: deps.now() });
    return reply.code(207).send(
      results.map(({ symbol: sym, result }) => {
        const answer = closeAnswer(result, sym);
        return { symbol: sym, status: answer.status, body: answer.body };
      }),
    );
  });

  app.delete('/v2/orders', async (_request, reply) => {
    const canceled = await cancelAllOrders(engine, deps.now());
    return reply.code(207).send(canceled.map((o) => ({ id: o.id, status: 200, body: orderJson(o) })));
  });

  function closeAnswer(result: CloseResult, sym: string): Answer {
    switch (result.kind) {
      case 'not_found':
        return { status: 404, body: errorBody(404, 'position does not exist'), created: false };
      case 'too_small':
        return { status: 422, body: errorBody(422, 'the requested percentage of the position is less than one share'), created: false };
      case 'insufficient_qty':
        return {
          status: 403,
          body: errorBody(403, `insufficient qty available for order (requested: ${result.requested}, available: ${result.available})`, {
            available: String(result.available),
            existing_qty: String(result.existing),
            held_for_orders: String(result.held),
            symbol: sym,
          }),
          created: false,
        };
      default:
        return deps.answerOf(result, sym);
    }
  }
}
