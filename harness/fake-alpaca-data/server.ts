/**
 * A local fake of Alpaca's Market Data API v2 stock bars, following its documented shape:
 *
 *   GET /v2/stocks/bars?symbols=A,B&timeframe=1Min&start&end&limit&page_token&feed&adjustment&sort
 *     -> { bars: { A: [{ t, o, h, l, c, v, n, vw }], ... }, next_page_token }   (sorted by symbol, then time;
 *        `limit` counts bars over all symbols, default 1,000, at most 10,000)
 *   GET /v2/stocks/{symbol}/bars?timeframe&start&end&limit&page_token&feed&adjustment
 *     -> { bars: [...] | null, symbol, next_page_token }
 *
 * start/end are inclusive (RFC 3339 or YYYY-MM-DD; end defaults to now), timeframes `[1-59]Min`, `[1-23]Hour`,
 * `1Day` (and T/H/D), bars clock-aligned. Keys in APCA-API-KEY-ID / APCA-API-SECRET-KEY (401 otherwise); feed
 * iex | sip (sip refused with 403 when `sip` is off, as on the free plan); adjustment raw | split | dividend | all.
 * A rate limit per key (token bucket, default 200 per minute): beyond it 429 with Retry-After (seconds) and
 * X-RateLimit-Limit / -Remaining / -Reset. Scripted faults for the next requests ('429', '500', '503', 'hang',
 * 'not-json', '403'); late, missing and corrupt bars come from the FakeMarket.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Bar } from '../../domain/bars';
import { FakeMarket, type MarketOptions } from './market';
import { decodePageToken, encodePageToken, parseAlpacaTime, parseAlpacaTimeframe, rfc3339, type AlpacaTimeframe } from './wire';

export type DataFault = '429' | '500' | '503' | 'hang' | 'not-json' | '403';

export interface FakeAlpacaDataOptions extends MarketOptions {
  keyId: string;
  secretKey: string;
  /** requests per minute per key; beyond it 429 (default 200, Alpaca's free plan) */
  rateLimitPerMin?: number;
  /** whether the SIP feed is allowed (default false) */
  sip?: boolean;
  hangMs?: number;
  port?: number;
}

export interface DataRequest {
  path: string;
  query: Record<string, string>;
  status: number;
  at: number;
}

export interface FakeAlpacaData {
  url: string;
  market: FakeMarket;
  /** faults for the next requests, consumed in order */
  faults: DataFault[];
  requests: DataRequest[];
  /** 429s answered by the rate limit (not the scripted ones) */
  rateLimited: number;
  close(): Promise<void>;
}

const MAX_LIMIT = 10_000;
const DEFAULT_LIMIT = 1_000;

type Query = Record<string, string | undefined>;

export async function startFakeAlpacaData(opts: FakeAlpacaDataOptions): Promise<FakeAlpacaData> {
  const market = new FakeMarket(opts);
  const perMin = opts.rateLimitPerMin ?? 200;
  const buckets = new Map<string, { tokens: number; ts: number }>();
  const state: FakeAlpacaData = { url: '', market, faults: [], requests: [], rateLimited: 0, close: async () => undefined };
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });

  /** Takes a token for `key`, or says how many ms until one exists. */
  const take = (key: string): number => {
    const now = Date.now();
    const b = buckets.get(key) ?? { tokens: perMin, ts: now };
    b.tokens = Math.min(perMin, b.tokens + ((now - b.ts) * perMin) / 60_000);
    b.ts = now;
    buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 60_000) / perMin);
  };

  const error = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ code: status * 100_000 + 10_000, message });

  /** Checks shared by both routes; a reply when the request is refused. */
  const admit = async (reply: FastifyReply, headers: Record<string, unknown>): Promise<FastifyReply | undefined> => {
    const fault = state.faults.shift();
    switch (fault) {
      case '429':
        return reply.code(429).header('retry-after', '1').send({ code: 42910000, message: 'too many requests' });
      case '500':
        return error(reply, 500, 'internal server error');
      case '503':
        return reply.code(503).type('text/plain').send('service unavailable');
      case 'hang':
        await new Promise((r) => setTimeout(r, opts.hangMs ?? 2_000));
        return error(reply, 504, 'gateway timeout');
      case 'not-json':
        return reply.code(200).type('text/html').send('<html>maintenance</html>');
      case '403':
        return error(reply, 403, 'forbidden');
      default:
    }
    if (headers['apca-api-key-id'] !== opts.keyId || headers['apca-api-secret-key'] !== opts.secretKey) return error(reply, 401, 'unauthorized.');
    const waitMs = take(opts.keyId);
    reply.header('x-ratelimit-limit', String(perMin));
    if (waitMs > 0) {
      state.rateLimited++;
      return reply
        .code(429)
        .header('retry-after', String(Math.ceil(waitMs / 1000)))
        .header('x-ratelimit-remaining', '0')
        .header('x-ratelimit-reset', String(Math.ceil((Date.now() + waitMs) / 1000)))
        .send({ code: 42910000, message: 'too many requests' });
    }
    return undefined;
  };

  interface Parsed {
    tf: AlpacaTimeframe;
    start: number;
    end: number;
    limit: number;
    cursor: { symbolIndex: number; afterTs: number };
  }

  const parse = (reply: FastifyReply, q: Query): Parsed | FastifyReply => {
    const tf = parseAlpacaTimeframe(q.timeframe);
    if (tf === null) return error(reply, 422, `invalid timeframe: ${q.timeframe ?? '(missing)'}`);
    const now = market.now();
    const start = q.start === undefined ? Math.floor(now / 86_400_000) * 86_400_000 : parseAlpacaTime(q.start);
    const end = q.end === undefined ? now : parseAlpacaTime(q.end);
    if (Number.isNaN(start) || Number.isNaN(end)) return error(reply, 422, 'invalid start or end');
    if (end < start) return error(reply, 422, 'end should not be before start');
    const limit = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) return error(reply, 422, 'invalid limit: must be between 1 and 10000');
    if (q.feed !== undefined && !['iex', 'sip', 'otc', 'delayed_sip'].includes(q.feed)) return error(reply, 422, `invalid feed: ${q.feed}`);
    if (q.feed === 'sip' && !opts.sip) return error(reply, 403, 'subscription does not permit querying recent SIP data');
    if (q.adjustment !== undefined && !['raw', 'split', 'dividend', 'all'].includes(q.adjustment)) return error(reply, 422, `invalid adjustment: ${q.adjustment}`);
    if (q.sort !== undefined && q.sort !== 'asc') return error(reply, 422, 'only sort=asc is served by this fake');
    const cursor = q.page_token ? decodePageToken(q.page_token) : { symbolIndex: 0, afterTs: Number.NEGATIVE_INFINITY };
    if (cursor === null) return error(reply, 422, 'invalid page_token');
    return { tf, start, end, limit, cursor };
  };

  const wire = (b: Bar) => ({ t: rfc3339(b.ts), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume, n: 1 + (b.volume % 50), vw: (b.high + b.low + b.close) / 3 });

  /** Bars for the symbols from the cursor on, limit over all of them, and where the next page starts. */
  const page = (symbols: string[], p: Parsed): { bars: Map<string, Bar[]>; next: string | null } => {
    const out = new Map<string, Bar[]>();
    let room = p.limit;
    for (let i = p.cursor.symbolIndex; i < symbols.length; i++) {
      const after = i === p.cursor.symbolIndex ? p.cursor.afterTs : Number.NEGATIVE_INFINITY;
      const bars = market.bars(symbols[i]!, p.tf, p.start, p.end, after, room + 1);
      const served = bars.slice(0, room);
      if (served.length > 0) out.set(symbols[i]!, served);
      room -= served.length;
      if (bars.length > served.length) return { bars: out, next: encodePageToken({ symbolIndex: i, afterTs: served[served.length - 1]?.ts ?? after }) };
      if (room === 0) return { bars: out, next: i + 1 < symbols.length ? encodePageToken({ symbolIndex: i + 1, afterTs: Number.NEGATIVE_INFINITY }) : null };
    }
    return { bars: out, next: null };
  };

  const log = (path: string, query: Query, reply: FastifyReply) => {
    state.requests.push({ path, query: Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined)) as Record<string, string>, status: reply.statusCode, at: Date.now() });
  };

  app.get<{ Querystring: Query }>('/v2/stocks/bars', async (req, reply) => {
    try {
      const refused = await admit(reply, req.headers);
      if (refused) return refused;
      const symbols = (req.query.symbols ?? '').split(',').filter(Boolean);
      if (symbols.length === 0) return error(reply, 400, 'symbols is required');
      const p = parse(reply, req.query);
      if (!('tf' in p)) return p;
      const { bars, next } = page(symbols, p);
      return reply.send({ bars: Object.fromEntries([...bars].map(([s, list]) => [s, list.map(wire)])), next_page_token: next });
    } finally {
      log('/v2/stocks/bars', req.query, reply);
    }
  });

  app.get<{ Params: { symbol: string }; Querystring: Query }>('/v2/stocks/:symbol/bars', async (req, reply) => {
    try {
      const refused = await admit(reply, req.headers);
      if (refused) return refused;
      const p = parse(reply, req.query);
      if (!('tf' in p)) return p;
      const { bars, next } = page([req.params.symbol], p);
      const list = bars.get(req.params.symbol) ?? [];
      return reply.send({ bars: list.length ? list.map(wire) : null, symbol: req.params.symbol, next_page_token: next });
    } finally {
      log(`/v2/stocks/${req.params.symbol}/bars`, req.query, reply);
    }
  });

  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () => app.close();
  return state;
}
