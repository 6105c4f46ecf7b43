import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import { z } from 'zod';
import { selectCandles } from '../../../db/sql/bars';
import { ROLES_ANY } from '../auth';
import { errorResponses } from '../errors';
import { SymbolSchema, timeBound, TimeframeSchema } from '../schemas';

const MAX_CANDLES = 10_000;

const CandlesQuerySchema = z
  .strictObject({
    symbol: SymbolSchema,
    timeframe: TimeframeSchema,
    from: timeBound('from').optional(),
    to: timeBound('to').optional(),
    maxCandles: z.coerce
      .number({ error: 'maxCandles must be a number' })
      .int({ error: 'maxCandles must be a whole number' })
      .min(2, { error: 'maxCandles must be at least 2' })
      .max(MAX_CANDLES, { error: `maxCandles must be at most ${MAX_CANDLES}` })
      .default(2_000)
      .describe('the most candles to return; a longer range is merged into candles of consecutive bars'),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { path: ['from'], error: 'from must not be after to' });

const CandleSchema = z.object({
  ts: z.number().describe('open time of the first bar, epoch ms'),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number(),
  bars: z.number().int().describe('bars merged into this candle'),
});

const CandlesSchema = z.object({
  symbol: z.string(),
  timeframe: z.string(),
  bars: z.number().int().describe('bars in the range'),
  candles: z.array(CandleSchema),
});

/**
 * GET /v1/bars/candles: a stored series as at most maxCandles candles, for charts (the results page draws a
 * backtest's prices with it: a 500k-bar minute backtest is 2,000 candles, not 500k bars).
 */
export function barCandleRoutes(db: Pool): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/v1/bars/candles',
      {
        config: { roles: ROLES_ANY },
        schema: {
          summary: 'Stored bars of a range as at most maxCandles candles (consecutive bars merged in equal counts)',
          tags: ['bars'],
          security: [{ bearer: [] }],
          querystring: CandlesQuerySchema,
          response: { 200: CandlesSchema, ...errorResponses(400, 401, 403, 503) },
        },
      },
      async (request) => {
        const { symbol, timeframe, from, to, maxCandles } = request.query;
        const candles = await selectCandles(db, { symbol, timeframe, from, to }, maxCandles);
        return { symbol, timeframe, bars: candles.reduce((n, c) => n + c.bars, 0), candles };
      },
    );
  };
}
