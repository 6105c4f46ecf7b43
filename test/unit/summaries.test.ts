import type { ActionPayload } from '../../domain/deployment/batch';
import { actionLine, MAX_WAKE_LINE } from '../../domain/deployment/order-line';
import type { RiskVerdict } from '../../domain/risk/gate';
import type { CycleRecord } from '../../workflows/deployment/messages';
import type { Runtime } from '../../workflows/deployment/runtime';
import { barWaitSummary, decidedOrderSummary, forgetOrder, orderSummary, recordSummary } from '../../workflows/deployment/summaries';
import { backtestLine, deploymentLine, duration, grouped, line, tradeText, utcMinute } from '../../workflows/summaries';

/** The Temporal UI's lines: by hand (no Intl), one short line, only structured fields. */
const rt = (strategy = 'sma-cross') => ({ spec: { strategy } }) as unknown as Runtime;
const rec = (over: Partial<CycleRecord>): CycleRecord => ({ cycle: 197, barClose: 0, symbol: 'IDX', action: 'hold', clientOrderIds: [], ...over });

test('numbers, times and durations are formatted by hand', () => {
  expect([grouped(3620), grouped(1234567.891), grouped(-3580.5), grouped(0.00001), grouped(Number.NaN)]).toEqual(['3,620', '1,234,567.891', '-3,580.5', '0', 'NaN']);
  expect(utcMinute(Date.parse('2026-12-04T14:31:00Z'))).toBe('2026-12-04 14:31Z');
  expect(utcMinute(Date.parse('2026-12-04T14:31:20.500Z'))).toBe('2026-12-04 14:31:20Z');
  expect([duration(0), duration(500), duration(2000), duration(30_000), duration(65 * 60_000)]).toEqual(['0 ms', '500 ms', '2 s', '30 s', '65 min']);
  expect(tradeText({ side: 'buy', qty: 10, symbol: 'IDX', price: 3620 })).toBe('BUY 10 IDX @ 3,620');
  expect(tradeText({ side: 'sell', qty: 40, symbol: 'IDX', price: 0 })).toBe('SELL 40 IDX');
});

test('a line is one line under 200 characters, whatever it is given', () => {
  const long = line(`a\nb ${'x'.repeat(500)}`);
  expect(long.length).toBeLessThan(200);
  expect(long).not.toMatch(/\n/);
  const many = deploymentLine({ spec: { strategy: 'sma-cross', symbols: Array.from({ length: 300 }, (_, i) => `SYM${i}`), timeframe: '1m', broker: 'paper', accountId: 'demo' }, paramsVersion: 3 });
  expect(many).toBe('sma-cross v3 · SYM0,SYM1,SYM2,SYM3,… (+296) · 1m · paper demo');
  expect(deploymentLine({ spec: { strategy: 'sma-cross', symbols: ['IDX', 'ABC'], timeframe: '1m', broker: 'paper', accountId: 'demo' }, paramsVersion: 1, clock: {} })).toBe('sma-cross v1 · IDX,ABC · 1m · paper demo · replay');
  expect(backtestLine({ symbol: 'ORCL', timeframe: '1d', from: '2000-01-01T00:00:00.000Z', settings: { strategy: 'sma-cross' } })).toBe('backtest sma-cross · ORCL 1d · 2000-01-01..last bar');
});

test("a cycle row's line says what the cycle did, with the order it sent", () => {
  const r = rt();
  expect(orderSummary(r, 'c-1', { symbol: 'IDX', side: 'buy', qty: 1, price: 3620, reason: 'signal' })).toBe('signal buy 1 IDX');
  expect(recordSummary(r, rec({ action: 'order', clientOrderIds: ['c-1'] }), 1)).toBe('cycle 197 · BUY 1 IDX @ 3,620 · sma-cross v1');
  expect(orderSummary(r, 'c-2', { symbol: 'IDX', side: 'sell', qty: 40, price: 3580, reason: 'stop-loss' })).toBe('stop-loss 40 IDX @ 3,580');
  expect(recordSummary(r, rec({ action: 'rejected', reason: 'insufficient buying power', clientOrderIds: ['c-2'] }), 2)).toBe('cycle 197 · SELL 40 IDX @ 3,580 rejected (by the broker) · sma-cross v2');
  expect(recordSummary(r, rec({ action: 'hold' }), 1)).toBe('cycle 197 · IDX hold');
  // a skip shows the reason's first words, never its detail (an error message may follow the colon)
  expect(recordSummary(r, rec({ action: 'skip', reason: 'inputs unavailable: connect ECONNREFUSED postgres://user:secret@db' }), 1)).toBe('cycle 197 · IDX skip (inputs unavailable)');
  const verdict: RiskVerdict = { decision: 'reject', qty: 0, breaker: 'none', forceClose: false, reasons: [{ rule: 'max-position', detail: 'at 100' }] };
  expect(recordSummary(r, rec({ action: 'rejected', risk: verdict, reason: 'max-position: at 100' }), 1)).toBe('cycle 197 · IDX rejected (max-position) · sma-cross v1');
  expect(recordSummary(r, rec({ action: 'approval', approvalId: 'a-1' }), 1)).toBe('cycle 197 · IDX awaiting approval a-1 · sma-cross v1');
  // another run's orders are not this one's
  expect(recordSummary(rt(), rec({ action: 'order', clientOrderIds: ['c-1'] }), 1)).toBe('cycle 197 · IDX order c-1 · sma-cross v1');
});

test("a decided order written with its cycle row says the cycle, the trade and the strategy; what it sent is then dropped", () => {
  const r = rt();
  const order = orderSummary(r, 'c-9', { symbol: 'IDX', side: 'buy', qty: 1, price: 3620, reason: 'signal' });
  expect(decidedOrderSummary(r, 197, order, 1)).toBe('cycle 197 · signal buy 1 IDX · sma-cross v1');
  forgetOrder(r, 'c-9');
  expect(recordSummary(r, rec({ action: 'order', clientOrderIds: ['c-9'] }), 1)).toBe('cycle 197 · IDX order c-9 · sma-cross v1');
});

test('the wait for a bar', () => {
  const close = Date.parse('2026-12-04T14:31:00Z');
  expect(barWaitSummary(close, 2000, 40_000, 40_000)).toBe('bar 2026-12-04 14:31Z + 2 s settle');
  expect(barWaitSummary(close, 2000, 65 * 60_000, 3 * 3600_000)).toBe('bar 2026-12-04 14:31Z + 2 s settle · look for lost commands in 65 min');
});

test("a stored action's line (its wake carries it) is the decided order's line; none when it orders nothing; at most MAX_WAKE_LINE", () => {
  const order = (symbol: string, qty: number, side: 'buy' | 'sell' = 'buy') =>
    ({ symbol, record: rec({ symbol }), action: { kind: 'order', intent: { symbol, side, qty, price: 3620, reason: 'signal' }, reducing: false, fillAtLevel: false } }) as ActionPayload['acts'][number];
  const payload = (acts: ActionPayload['acts']) => ({ cycle: 16, paramsVersion: 2, acts }) as unknown as ActionPayload;
  const r = rt();
  // the same text as the line of a deployment's own decided order
  expect(actionLine(payload([order('RBA', 1)]), 'sma-cross')).toBe(decidedOrderSummary(r, 16, orderSummary(r, 'c-16', { symbol: 'RBA', side: 'buy', qty: 1, price: 3620, reason: 'signal' }), 2));
  expect(actionLine(payload([order('RBA', 1)]), 'sma-cross')).toBe('cycle 16 · signal buy 1 RBA · sma-cross v2');
  expect(actionLine(payload([order('RBA', 1200, 'sell'), order('ABC', 3)]), 'sma-cross')).toBe('cycle 16 · signal sell 1,200 RBA, signal buy 3 ABC · sma-cross v2');
  expect(actionLine(payload([{ symbol: 'RBA', record: rec({}), action: { kind: 'approval' } } as unknown as ActionPayload['acts'][number]]), 'sma-cross')).toBeUndefined();
  expect(actionLine(payload([]), 'sma-cross')).toBeUndefined();
  const long = actionLine(payload(Array.from({ length: 30 }, (_, i) => order(`S${i}`, i + 1))), 'sma-cross')!;
  expect([long.length, long.endsWith('…')]).toEqual([MAX_WAKE_LINE, true]);
});
