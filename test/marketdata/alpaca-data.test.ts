/**
 * The Alpaca market-data adapter against the local fake of Alpaca's documented bars API (harness/fake-alpaca-data):
 * multi-symbol pages, 429 with Retry-After, the shared Redis guard in front of it, keys, and the session-following
 * aggregation of timeframes Alpaca aligns to the clock.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CallGuard } from '../../brokers/guard/call-guard';
import { GuardSettingsSchema } from '../../brokers/guard/settings';
import type { Bar } from '../../domain/bars';
import { calendarBars } from '../../domain/marketdata/calendar-bars';
import { startFakeAlpacaData, type FakeAlpacaData } from '../../harness/fake-alpaca-data/server';
import { AlpacaMarketData } from '../../marketdata/alpaca';
import { MarketDataRequestError, MarketDataUnavailableError } from '../../marketdata/provider';
import { fetchScreenedBars } from '../../marketdata/source';
import { createRedis, redisReady } from '../../platform/deps';
import { createLogger } from '../../platform/logger';
import { testConfig } from '../helpers/stack';

const Z = (iso: string) => Date.parse(iso.endsWith('Z') ? iso : `${iso}Z`);
const KEY = { keyId: 'fake-key-id-1234', secretKey: 'fake-secret-abcdefgh' };
const DAY = { from: Z('2024-03-08T14:30'), to: Z('2024-03-08T20:59') };

let fake: FakeAlpacaData;
let redis: Redis;

beforeAll(async () => {
  // every minute of every symbol, in NYSE sessions only, as published by now
  fake = await startFakeAlpacaData({ ...KEY, rateLimitPerMin: 1_000, generated: { symbols: true, calendar: 'XNYS' } });
  redis = createRedis(testConfig(), createLogger('silent'));
  await redisReady(redis);
});

afterAll(async () => {
  await fake?.close();
  redis?.disconnect();
});

beforeEach(() => {
  fake.faults.length = 0;
  fake.requests.length = 0;
});

const adapter = (extra: Partial<ConstructorParameters<typeof AlpacaMarketData>[0]> = {}) => new AlpacaMarketData({ baseUrl: fake.url, credentials: () => KEY, ...extra });

test('many symbols in one request, pages followed until next_page_token is null: every minute of the session, each once', async () => {
  const symbols = ['AAA', 'BBB', 'CCC'];
  const got = await adapter({ pageSize: 250 }).fetchBars({ symbols, timeframe: '1m', ...{ fromMs: DAY.from, toMs: DAY.to } });
  for (const s of symbols) {
    const ts = got.get(s)!.map((b) => b.ts);
    expect(ts).toHaveLength(390);
    expect(ts[0]).toBe(DAY.from);
    expect(new Set(ts).size).toBe(390);
  }
  // 1,170 bars at 250 per page: 5 pages, each carrying the token of the one before
  expect(fake.requests.map((r) => [r.status, r.query.symbols, r.query.limit, r.query.timeframe, r.query.feed, r.query.adjustment])).toEqual(Array(5).fill([200, 'AAA,BBB,CCC', '250', '1Min', 'iex', 'raw']));
  expect(fake.requests.slice(1).every((r) => typeof r.query.page_token === 'string')).toBe(true);
  expect(fake.requests[0]!.query).toMatchObject({ start: '2024-03-08T14:30:00Z', end: '2024-03-08T20:59:00Z', sort: 'asc' });
});

test('a 429 carries its Retry-After; the fake limits each key; wrong keys are refused and never echoed', async () => {
  fake.faults.push('429');
  const err = await adapter().fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MarketDataUnavailableError);
  expect(err).toMatchObject({ status: 429, retryAfterMs: 1_000 });

  const limited = await startFakeAlpacaData({ ...KEY, rateLimitPerMin: 3, generated: { symbols: true } });
  try {
    const a = new AlpacaMarketData({ baseUrl: limited.url, credentials: () => KEY });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => a.fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    expect(limited.rateLimited).toBe(2);
    expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ status: 429, retryAfterMs: 20_000 });
  } finally {
    await limited.close();
  }

  const wrong = new AlpacaMarketData({ baseUrl: fake.url, credentials: () => ({ keyId: KEY.keyId, secretKey: 'not-the-secret-xyz' }) });
  const refused = await wrong.fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(MarketDataRequestError);
  expect((refused as Error).message).toMatch(/not authorized \(401/);
  expect((refused as Error).message).not.toContain('not-the-secret-xyz');
  fake.faults.push('503', 'not-json');
  await expect(adapter().fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from })).rejects.toMatchObject({ status: 503 });
  await expect(adapter().fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from })).rejects.toThrow(/not JSON/);
});

test('through the shared Redis guard, a 429 pauses every caller of the account until its Retry-After has passed', async () => {
  const key = `alpaca-data:test-${randomUUID().slice(0, 8)}`;
  const settings = GuardSettingsSchema.parse({ key, limits: { perMinute: 600, burst: 5, maxWaitMs: 5_000 } });
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined };
  // two "workers": their own guard objects on one key
  const a = adapter({ guard: new CallGuard(redis, logger, settings, 'market data') });
  const b = adapter({ guard: new CallGuard(redis, logger, settings, 'market data') });
  fake.faults.push('429');
  await expect(a.fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from })).rejects.toMatchObject({ status: 429 });
  const t0 = Date.now();
  const got = await b.fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // Retry-After: 1 second, for the other worker too
  expect(got.get('AAA')).toHaveLength(1);

  // a bucket too small for the burst: the guard refuses before sending, as an unavailable provider
  const tight = GuardSettingsSchema.parse({ key: `${key}-tight`, limits: { perMinute: 3, burst: 1, maxWaitMs: 0 } });
  const c = adapter({ guard: new CallGuard(redis, logger, tight, 'market data') });
  await c.fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from });
  const sent = fake.requests.length;
  await expect(c.fetchBars({ symbols: ['AAA'], timeframe: '1m', fromMs: DAY.from, toMs: DAY.from })).rejects.toThrow(/rate limited \(shared guard\)/);
  expect(fake.requests.length).toBe(sent);
});

test('Alpaca hours are on the clock: 1h, 8h and 1d follow the NYSE session, aggregated from 30-minute bars; invalid bars are counted', async () => {
  const sym = 'AGG';
  const halves = calendarBars('XNYS', '30m', DAY.from, DAY.to).map((b) => b.open);
  const bars: Bar[] = [Z('2024-03-08T13:00'), Z('2024-03-08T13:30'), Z('2024-03-08T14:00'), ...halves].flatMap((ts, i) =>
    Array.from({ length: 30 }, (_, m) => ({ ts: ts + m * 60_000, open: 10 + i, high: 11 + i, low: 9 + i, close: 10.5 + i, volume: 1 })),
  );
  fake.market.setMinuteBars(sym, bars);
  fake.market.corruptBar(sym, Z('2024-03-08T16:30'), { low: -1 });
  const a = adapter();
  const now = Z('2024-03-09T00:00');
  const hourly = (await fetchScreenedBars(a, { symbols: [sym], timeframe: '1h', fromMs: Z('2024-03-08T13:00'), toMs: DAY.to, nowMs: now })).get(sym)!;
  expect(hourly.bars.map((b) => new Date(b.ts).toISOString().slice(11, 16))).toEqual(['14:30', '15:30', '16:30', '17:30', '18:30', '19:30', '20:30']);
  expect(hourly.bars[0]).toMatchObject({ open: 13, close: 14.5, volume: 60 }); // the 09:30 and 10:00 half hours, pre-market left out
  expect(hourly.bars[2]).toMatchObject({ open: 18, volume: 30 }); // 11:30-12:00 was invalid: only 12:00-12:30 is left
  expect([hourly.invalid, hourly.outsideSession]).toEqual([1, 3]);
  const session = (await fetchScreenedBars(a, { symbols: [sym], timeframe: '8h', fromMs: DAY.from, toMs: DAY.to, nowMs: now })).get(sym)!;
  expect(session.bars).toEqual([{ ts: DAY.from, open: 13, high: 26, low: 12, close: 25.5, volume: 360 }]);
  const daily = (await fetchScreenedBars(a, { symbols: [sym], timeframe: '1d', fromMs: DAY.from, toMs: DAY.to, nowMs: now })).get(sym)!;
  expect(daily.bars).toEqual(session.bars);
  expect(fake.requests.every((r) => r.query.timeframe === '30Min')).toBe(true);
});

test('late bars are not served before they are published; a forming candle is never kept', async () => {
  const sym = 'LATE';
  const start = Z('2024-03-08T15:00');
  fake.market.setMinuteBars(sym, Array.from({ length: 5 }, (_, m) => ({ ts: start + m * 60_000, open: 10, high: 11, low: 9, close: 10, volume: 1 })));
  fake.market.delay(sym, start + 2 * 60_000, 10 * 365 * 86_400_000);
  const got = (await fetchScreenedBars(adapter(), { symbols: [sym], timeframe: '1m', fromMs: start, toMs: start + 4 * 60_000, nowMs: start + 4 * 60_000 + 30_000 })).get(sym)!;
  expect(got.bars.map((b) => (b.ts - start) / 60_000)).toEqual([0, 1, 3]); // 15:02 is late; 15:04 is still forming
  expect(got.forming).toBe(1);
});
