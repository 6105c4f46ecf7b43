/**
 * A local fake of Alpaca's Market Data API v2 stock-bars endpoint, following the documented shape:
 *
 *   GET /v2/stocks/{symbol}/bars?timeframe&start&end&limit&feed&adjustment&page_token
 *   -> { bars: [{ t, o, h, l, c, v, n, vw }] | null, symbol, next_page_token: string | null }
 *
 * start/end are inclusive RFC 3339 times, limit is the page size (default 1,000, max 10,000), page_token is opaque.
 * Auth via APCA-API-KEY-ID / APCA-API-SECRET-KEY (wrong keys: 401). Faults are scripted per request:
 * 'ok' (none), '429' (with Retry-After), '500', '503', 'hang' (answers after `hangMs`), '403', '422', 'not-json', 'echo-secret'
 * (a 403 whose message repeats the secret header, as a careless proxy might).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Bar } from '../../marketdata/port';

export type Fault = 'ok' | '429' | '500' | '503' | 'hang' | '403' | '422' | 'not-json' | 'echo-secret';

export interface FakeAlpaca {
  url: string;
  /** faults for the next requests, consumed in order */
  faults: Fault[];
  /** every request's query, as received */
  requests: Array<Record<string, string>>;
  setBars(symbol: string, bars: Bar[]): void;
  close(): Promise<void>;
}

const TIMEFRAME_MS: Record<string, number> = { '1Min': 60_000, '5Min': 300_000, '15Min': 900_000, '30Min': 1_800_000, '1Hour': 3_600_000, '4Hour': 14_400_000, '1Day': 86_400_000 };

export async function startFakeAlpaca(opts: { keyId: string; secretKey: string; hangMs?: number; retryAfter?: string }): Promise<FakeAlpaca> {
  const series = new Map<string, Bar[]>();
  const faults: Fault[] = [];
  const requests: Array<Record<string, string>> = [];
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });

  app.get<{ Params: { symbol: string }; Querystring: Record<string, string> }>('/v2/stocks/:symbol/bars', async (req, reply) => {
    requests.push({ ...req.query });
    const fault = faults.shift();
    switch (fault) {
      case '429':
        return reply.code(429).header('retry-after', opts.retryAfter ?? '3').send({ code: 42910000, message: 'rate limit exceeded' });
      case '500':
        return reply.code(500).send({ message: 'internal server error' });
      case '503':
        return reply.code(503).type('text/plain').send('service unavailable');
      case 'hang':
        await new Promise((r) => setTimeout(r, opts.hangMs ?? 2_000));
        return reply.code(200).send({ bars: null, symbol: req.params.symbol, next_page_token: null });
      case '403':
        return reply.code(403).send({ message: 'subscription does not permit querying recent SIP data' });
      case '422':
        return reply.code(422).send({ code: 42210000, message: 'invalid timeframe' });
      case 'not-json':
        return reply.code(200).type('text/html').send('<html>maintenance</html>');
      case 'echo-secret':
        return reply.code(403).send({ message: `forbidden for key ${String(req.headers['apca-api-key-id'])} / ${String(req.headers['apca-api-secret-key'])}` });
      default:
    }
    if (req.headers['apca-api-key-id'] !== opts.keyId || req.headers['apca-api-secret-key'] !== opts.secretKey) {
      return reply.code(401).send({ message: 'unauthorized.' });
    }
    const q = req.query;
    const tf = TIMEFRAME_MS[q.timeframe];
    if (tf === undefined) return reply.code(422).send({ code: 42210000, message: `invalid timeframe: ${q.timeframe}` });
    const start = q.start ? Date.parse(q.start) : Number.NEGATIVE_INFINITY;
    const end = q.end ? Date.parse(q.end) : Number.POSITIVE_INFINITY;
    if (Number.isNaN(start) || Number.isNaN(end)) return reply.code(422).send({ code: 42210000, message: 'invalid start or end' });
    const limit = q.limit === undefined ? 1_000 : Number(q.limit);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 10_000)) return reply.code(422).send({ code: 42210000, message: 'invalid limit' });
    const after = q.page_token ? Number(Buffer.from(q.page_token, 'base64').toString('utf8')) : Number.NEGATIVE_INFINITY;

    const all = (series.get(req.params.symbol) ?? []).filter((b) => b.ts >= start && b.ts <= end && b.ts > after);
    const page = all.slice(0, limit);
    const more = all.length > limit;
    return reply.send({
      bars: page.length === 0 ? null : page.map((b) => ({ t: new Date(b.ts).toISOString().replace('.000Z', 'Z'), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume, n: 10, vw: b.close })),
      symbol: req.params.symbol,
      next_page_token: more ? Buffer.from(String(page[page.length - 1].ts)).toString('base64') : null,
    });
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    requests,
    setBars: (symbol, bars) => series.set(symbol, [...bars].sort((a, b) => a.ts - b.ts)),
    close: () => app.close(),
  };
}
