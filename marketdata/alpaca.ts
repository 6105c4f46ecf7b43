/**
 * Alpaca's Market Data API v2, historical stock bars for many symbols at once:
 *
 *   GET {base}/v2/stocks/bars?symbols=A,B&timeframe=1Min&start&end&limit&feed&adjustment=raw&sort=asc&page_token
 *   -> 200 { "bars": { "A": [{ "t", "o", "h", "l", "c", "v", "n", "vw" }], ... }, "next_page_token": string | null }
 *
 * Results come sorted by symbol, then time, and `limit` counts bars over all symbols, so pages are followed until
 * `next_page_token` is null. Alpaca aligns bars to the clock (hours on the hour, days at midnight New York), so only
 * 1-30 minute bars are the session's bars; hours and days are aggregated from 30-minute bars (source.ts).
 *
 * Keys go in APCA-API-KEY-ID / APCA-API-SECRET-KEY, read from `credentials()` at every call and never put into an
 * error or a log (anything the server echoes is scrubbed). Every HTTP request passes the shared guard when one is
 * given (Alpaca's limit is per account: 200 requests a minute on the free plan). Errors: 429 (with its Retry-After),
 * 5xx, 408, timeouts, network failures, unreadable answers and guard refusals -> MarketDataUnavailableError; other
 * 4xx -> MarketDataRequestError with Alpaca's message.
 */
import { z } from 'zod';
import { alpacaErrorMessage, describeNetworkError, MAX_MESSAGE, retryAfterMs, scrub } from '../brokers/alpaca/errors';
import { SUCCESS, type CallGuard, type Verdict } from '../brokers/guard/call-guard';
import { BrokerGuardRefusal } from '../brokers/guard/errors';
import type { Bar, Timeframe } from '../domain/bars';
import { MarketDataRequestError, MarketDataUnavailableError, type BarRequest, type MarketDataProvider } from './provider';

/** Alpaca's documented Market Data API base URL, the default. */
export const ALPACA_DATA_BASE_URL = 'https://data.alpaca.markets';

/** The timeframes whose Alpaca bars are the session's bars, with Alpaca's names. */
const SESSION_TIMEFRAMES: Partial<Record<Timeframe, string>> = { '1m': '1Min', '5m': '5Min', '15m': '15Min', '30m': '30Min' };

export const ALPACA_MAX_PAGE = 10_000;

export interface AlpacaDataCredentials {
  keyId: string;
  secretKey: string;
}

export interface AlpacaMarketDataOptions {
  /** default ALPACA_DATA_BASE_URL; tests point it at the local fake */
  baseUrl?: string;
  credentials: () => AlpacaDataCredentials;
  /** 'iex' (free plan, the default) or 'sip' (every US exchange; recent data needs a subscription) */
  feed?: 'iex' | 'sip';
  /** per request (default 10 s) */
  timeoutMs?: number;
  /** bars per page, 1..10,000 (default 10,000) */
  pageSize?: number;
  /** symbols per request (default 200: the URL stays short) */
  maxSymbolsPerRequest?: number;
  /** stop after this many pages per call, so a misbehaving server cannot loop us forever (default 10,000) */
  maxPages?: number;
  /** the shared rate limit and circuit breaker of this Alpaca account (brokers/guard) */
  guard?: CallGuard;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

const WireBarSchema = z.object({ t: z.string(), o: z.number(), h: z.number(), l: z.number(), c: z.number(), v: z.number() });
const PageSchema = z.object({
  bars: z.record(z.string(), z.array(WireBarSchema).nullable()).nullable().optional(),
  next_page_token: z.string().nullable().optional(),
});

/** RFC 3339 without a zero millisecond part. */
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export class AlpacaMarketData implements MarketDataProvider {
  readonly name = 'alpaca';
  readonly sessionTimeframes = Object.keys(SESSION_TIMEFRAMES) as Timeframe[];
  readonly base: Timeframe = '30m';
  readonly calendar = 'XNYS' as const;
  private readonly baseUrl: string;
  private readonly pageSize: number;
  private readonly perRequest: number;

  constructor(private readonly opts: AlpacaMarketDataOptions) {
    this.baseUrl = (opts.baseUrl ?? ALPACA_DATA_BASE_URL).replace(/\/+$/, '');
    this.pageSize = Math.max(1, Math.min(ALPACA_MAX_PAGE, Math.floor(opts.pageSize ?? ALPACA_MAX_PAGE)));
    this.perRequest = Math.max(1, opts.maxSymbolsPerRequest ?? 200);
  }

  async fetchBars(req: BarRequest, signal?: AbortSignal): Promise<Map<string, Bar[]>> {
    const timeframe = SESSION_TIMEFRAMES[req.timeframe];
    if (timeframe === undefined) throw new MarketDataRequestError(`alpaca: ${req.timeframe} bars are aggregated from ${this.base}, not fetched`, 400);
    const out = new Map<string, Bar[]>();
    if (req.toMs < req.fromMs) return out;
    for (let i = 0; i < req.symbols.length; i += this.perRequest) {
      const symbols = req.symbols.slice(i, i + this.perRequest);
      await this.fetchChunk(symbols, timeframe, req, out, signal);
    }
    return out;
  }

  private async fetchChunk(symbols: readonly string[], timeframe: string, req: BarRequest, out: Map<string, Bar[]>, signal?: AbortSignal): Promise<void> {
    const what = `alpaca bars ${symbols.length === 1 ? symbols[0] : `${symbols.length} symbols`} ${req.timeframe}`;
    let pageToken: string | null = null;
    for (let page = 0; ; page++) {
      if (page >= (this.opts.maxPages ?? 10_000)) throw new MarketDataUnavailableError(`${what}: more than ${page} pages; narrow the range`);
      const query: Record<string, string> = {
        symbols: symbols.join(','),
        timeframe,
        start: rfc3339(req.fromMs),
        end: rfc3339(req.toMs),
        limit: String(this.pageSize),
        feed: this.opts.feed ?? 'iex',
        adjustment: 'raw',
        sort: 'asc',
      };
      if (pageToken !== null) query.page_token = pageToken;
      const json = await this.guarded(signal, () => this.get('/v2/stocks/bars', query, what, signal));
      const parsed = PageSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new MarketDataUnavailableError(`${what}: unreadable answer (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`, { status: 502 });
      }
      for (const [symbol, bars] of Object.entries(parsed.data.bars ?? {})) {
        const list = out.get(symbol) ?? [];
        for (const b of bars ?? []) list.push({ ts: Date.parse(b.t), open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v });
        out.set(symbol, list);
      }
      pageToken = parsed.data.next_page_token ?? null;
      if (!pageToken) return;
    }
  }

  /** One request through the shared guard; its refusal reads as a provider that is unavailable for now. */
  private async guarded<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    if (!this.opts.guard) return call();
    try {
      return await this.opts.guard.run(signal, call, () => SUCCESS, providerVerdict);
    } catch (err) {
      if (err instanceof BrokerGuardRefusal) throw new MarketDataUnavailableError(`alpaca market data: ${err.reason.replace('_', ' ')} (shared guard); retry in ${err.retryAfterMs} ms`, { retryAfterMs: err.retryAfterMs, cause: err });
      throw err;
    }
  }

  /** One GET: the parsed JSON of a 2xx answer, or a typed error. */
  private async get(path: string, query: Record<string, string>, what: string, signal?: AbortSignal): Promise<unknown> {
    const creds = this.opts.credentials();
    const secrets = [creds.secretKey, creds.keyId].filter((s) => typeof s === 'string' && s.length >= 4);
    signal?.throwIfAborted();
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    let status: number;
    let headers: Headers;
    let text: string;
    try {
      const res = await (this.opts.fetch ?? globalThis.fetch)(url, {
        headers: { 'APCA-API-KEY-ID': creds.keyId, 'APCA-API-SECRET-KEY': creds.secretKey, accept: 'application/json' },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      status = res.status;
      headers = res.headers;
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? new Error(`${what}: aborted`);
      if (timeout.aborted) throw new MarketDataUnavailableError(`${what}: no answer within ${timeoutMs} ms`);
      throw new MarketDataUnavailableError(scrub(`${what}: network error: ${describeNetworkError(err)}`, secrets));
    }
    const ok = status >= 200 && status < 300;
    let json: unknown = undefined;
    if (text.length) {
      try {
        json = JSON.parse(text);
      } catch {
        if (ok) throw new MarketDataUnavailableError(`${what}: HTTP ${status} with a body that is not JSON`, { status: 502 });
        json = { message: text.slice(0, MAX_MESSAGE) };
      }
    }
    if (ok) return json;
    const message = alpacaErrorMessage(json, secrets);
    if (status === 429) {
      const wait = retryAfterMs(headers, (this.opts.now ?? Date.now)());
      throw new MarketDataUnavailableError(`${what}: rate limited (429)${wait === undefined ? '' : `, retry after ${wait} ms`}`, { status, retryAfterMs: wait });
    }
    if (status >= 500 || status === 408) throw new MarketDataUnavailableError(`${what}: HTTP ${status} ${message}`.trim(), { status });
    if (status === 401 || status === 403) throw new MarketDataRequestError(`${what}: not authorized (${status}${message ? `: ${message}` : ''}): check the key id and secret and the feed subscription`, status);
    throw new MarketDataRequestError(`${what}: HTTP ${status} ${message}`.trim(), status);
  }
}

/** How a failed request counts for the shared breaker: 429s pause every worker, other unavailability is a failure. */
function providerVerdict(err: unknown, signal?: AbortSignal): Verdict {
  if (signal?.aborted) return { verdict: 'neutral' };
  if (err instanceof MarketDataUnavailableError) {
    return err.status === 429 ? { verdict: 'rate_limited', retryAfterMs: err.retryAfterMs, reason: err.message } : { verdict: 'failure', reason: err.message };
  }
  return err instanceof MarketDataRequestError ? SUCCESS : { verdict: 'neutral' };
}
