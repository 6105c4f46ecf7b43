/**
 * MarketDataProvider for Alpaca's Market Data API v2, historical stock bars:
 *
 *   GET {base}/v2/stocks/{symbol}/bars?timeframe=1Min&start=RFC3339&end=RFC3339&limit=N&feed=iex&adjustment=raw&page_token=T
 *   -> 200 { "bars": [{ "t": RFC3339, "o", "h", "l", "c", "v", "n", "vw" }] | null, "symbol": "AAPL", "next_page_token": "..." | null }
 *
 * `start` and `end` are inclusive; pages are followed until `next_page_token` is null or `limit` bars are in.
 * Keys go in the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers, read from a `credentials()` callback at every call
 * and never put into an error message or a log line (anything the server echoes is scrubbed).
 *
 * Errors: 429, 5xx, 408, timeouts, network failures and unreadable answers -> MarketDataUnavailableError (429 carries
 * `retryAfterMs` from Retry-After or X-RateLimit-Reset); any other 4xx -> MarketDataRequestError with Alpaca's message.
 */
import { z } from 'zod';
import { alpacaErrorMessage, describeNetworkError, MAX_MESSAGE, retryAfterMs, scrub } from '../brokers/alpaca/errors';
import type { Timeframe } from '../domain/bars';
import { MarketDataRequestError, MarketDataUnavailableError, type Bar, type BarQuery, type MarketDataProvider } from './port';

/** Alpaca's documented Market Data API base URL, the default. */
export const ALPACA_DATA_BASE_URL = 'https://data.alpaca.markets';

/** Alpaca's timeframe for each of ours. */
export const ALPACA_TIMEFRAMES: Readonly<Record<Timeframe, string>> = Object.freeze({
  '1m': '1Min',
  '5m': '5Min',
  '15m': '15Min',
  '30m': '30Min',
  '1h': '1Hour',
  '4h': '4Hour',
  '1d': '1Day',
});

/** Alpaca's maximum page size for bars. */
export const ALPACA_MAX_PAGE = 10_000;

export interface AlpacaDataCredentials {
  keyId: string;
  secretKey: string;
}

export interface AlpacaMarketDataOptions {
  /** default ALPACA_DATA_BASE_URL; tests point it at a local fake */
  baseUrl?: string;
  /** read at every call, never stored */
  credentials: () => AlpacaDataCredentials | Promise<AlpacaDataCredentials>;
  /** 'iex' (free plan, the default) or 'sip' (all US exchanges; needs a subscription for recent data) */
  feed?: 'iex' | 'sip';
  /** per-request timeout, combined with the caller's signal; default 10 s */
  timeoutMs?: number;
  /** bars per page, 1..10,000 (default 10,000) */
  pageSize?: number;
  /** stop after this many pages per fetchBars (default 1,000) so a misbehaving server cannot loop us forever */
  maxPages?: number;
  /** the port's name; default 'alpaca' */
  name?: string;
  /** for tests; default the global fetch */
  fetch?: typeof globalThis.fetch;
  /** wall clock for X-RateLimit-Reset; default Date.now */
  now?: () => number;
}

const BarJsonSchema = z.object({
  t: z.string().refine((s) => Number.isFinite(Date.parse(s)), { error: 't must be an RFC 3339 time' }),
  o: z.number(),
  h: z.number(),
  l: z.number(),
  c: z.number(),
  v: z.number(),
  n: z.number().optional(),
  vw: z.number().optional(),
});

const BarsPageSchema = z.object({
  bars: z.array(BarJsonSchema).nullable().optional(),
  symbol: z.string().optional(),
  next_page_token: z.string().nullable().optional(),
});


const DEFAULT_TIMEOUT_MS = 10_000;
/** server text is untrusted: kept short in errors */

/** RFC 3339 without a zero millisecond part (2024-01-02T15:30:00Z). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export class AlpacaMarketData implements MarketDataProvider {
  readonly name: string;
  private readonly base: string;
  private readonly credentials: () => AlpacaDataCredentials | Promise<AlpacaDataCredentials>;
  private readonly feed: 'iex' | 'sip';
  private readonly timeoutMs: number;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly now: () => number;

  constructor(opts: AlpacaMarketDataOptions) {
    this.name = opts.name ?? 'alpaca';
    this.base = (opts.baseUrl ?? ALPACA_DATA_BASE_URL).replace(/\/+$/, '');
    this.credentials = opts.credentials;
    this.feed = opts.feed ?? 'iex';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.pageSize = Math.max(1, Math.min(ALPACA_MAX_PAGE, Math.floor(opts.pageSize ?? ALPACA_MAX_PAGE)));
    this.maxPages = opts.maxPages ?? 1_000;
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? Date.now;
  }

  async fetchBars(q: BarQuery, signal?: AbortSignal): Promise<Bar[]> {
    const timeframe = Object.prototype.hasOwnProperty.call(ALPACA_TIMEFRAMES, q.timeframe) ? ALPACA_TIMEFRAMES[q.timeframe] : undefined;
    if (timeframe === undefined) throw new MarketDataRequestError(`${this.name}: unsupported timeframe "${String(q.timeframe)}"`, 400);
    if (!(Number.isFinite(q.fromMs) && Number.isFinite(q.toMs))) throw new MarketDataRequestError(`${this.name}: fromMs and toMs must be finite epoch ms`, 400);
    const limit = q.limit ?? Number.POSITIVE_INFINITY;
    if (q.toMs < q.fromMs || limit <= 0) return [];

    const path = `/v2/stocks/${encodeURIComponent(q.symbol)}/bars`;
    const what = `${this.name} bars ${q.symbol} ${q.timeframe}`;
    const byTs = new Map<number, Bar>();
    let pageToken: string | null = null;
    for (let page = 0; ; page++) {
      if (page >= this.maxPages) throw new MarketDataUnavailableError(`${what}: more than ${this.maxPages} pages; narrow the range`);
      const query: Record<string, string> = {
        timeframe,
        start: rfc3339(q.fromMs),
        end: rfc3339(q.toMs),
        limit: String(Math.min(this.pageSize, limit - byTs.size)),
        feed: this.feed,
        adjustment: 'raw',
        sort: 'asc',
      };
      if (pageToken !== null) query.page_token = pageToken;
      const json = await this.get(path, query, what, signal);
      const parsed = BarsPageSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new MarketDataUnavailableError(`${what}: unreadable answer (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`, { status: 502 });
      }
      for (const b of parsed.data.bars ?? []) {
        const ts = Date.parse(b.t);
        if (ts < q.fromMs || ts > q.toMs || byTs.has(ts)) continue;
        byTs.set(ts, { ts, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v });
      }
      pageToken = parsed.data.next_page_token ?? null;
      if (pageToken === null || pageToken === '' || byTs.size >= limit) break;
    }
    const bars = [...byTs.values()].sort((a, b) => a.ts - b.ts);
    return bars.length > limit ? bars.slice(0, limit) : bars;
  }

  /** One GET: the parsed JSON of a 2xx answer, or a typed error. */
  private async get(path: string, query: Record<string, string>, what: string, signal?: AbortSignal): Promise<unknown> {
    let creds: AlpacaDataCredentials;
    try {
      creds = await this.credentials();
    } catch {
      throw new MarketDataRequestError(`${what}: the credentials callback failed`, 401);
    }
    const secrets = [creds.secretKey, creds.keyId].filter((s) => typeof s === 'string' && s.length >= 4);
    signal?.throwIfAborted();
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let status: number;
    let headers: Headers;
    let text: string;
    try {
      const res = await this.fetchFn(url, {
        method: 'GET',
        headers: { 'APCA-API-KEY-ID': creds.keyId, 'APCA-API-SECRET-KEY': creds.secretKey, accept: 'application/json' },
        signal: combined,
      });
      status = res.status;
      headers = res.headers;
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? new Error(`${what}: aborted`);
      if (timeout.aborted) throw new MarketDataUnavailableError(`${what}: no answer within ${this.timeoutMs} ms`);
      throw new MarketDataUnavailableError(scrub(`${what}: network error: ${describeNetworkError(err)}`, secrets));
    }
    const ok = status >= 200 && status < 300;
    let json: unknown = undefined;
    if (text.length) {
      try {
        json = JSON.parse(text);
      } catch {
        if (ok) throw new MarketDataUnavailableError(`${what}: HTTP ${status} with a body that is not JSON`, { status: 502 });
        json = { message: text.slice(0, MAX_MESSAGE) }; // e.g. a proxy's plain-text error page
      }
    }
    if (ok) return json;
    const message = alpacaErrorMessage(json, secrets);
    if (status === 429) {
      const retryAfterMs = this.retryAfterMs(headers);
      throw new MarketDataUnavailableError(`${what}: rate limited (429)${retryAfterMs === undefined ? '' : `, retry after ${retryAfterMs} ms`}`, { status, retryAfterMs });
    }
    if (status >= 500 || status === 408) throw new MarketDataUnavailableError(`${what}: HTTP ${status} ${message}`.trim(), { status });
    if (status === 401 || status === 403) {
      throw new MarketDataRequestError(`${what}: not authorized (${status}${message ? `: ${message}` : ''}): check the API key id and secret and the feed subscription`, status);
    }
    throw new MarketDataRequestError(`${what}: HTTP ${status} ${message}`.trim(), status);
  }

  private retryAfterMs(headers: Headers): number | undefined {
    return retryAfterMs(headers, this.now());
  }

}

