import type { ActionPayload } from '../../domain/deployment/batch';
import { actSkip, orderInputOf, simpleOrderAct, type ActFacts } from '../../domain/deployment/decided-act';
import { SYMBOL_LOCK_TTL_MS } from '../../domain/eod/policy';
import { clientOrderId } from '../../domain/ids';
import type { OrderIntent } from '../../domain/risk/gate';

// The decision an order wake's read takes in its local activity and the workflow takes in perform (acts.ts).
const close = Date.UTC(2026, 11, 4, 14, 35);
const facts: ActFacts = { status: 'running', shown: 'running', dataNow: close + 1_000, staleAfterBars: 2, timeframe: '5m' };
const intent: OrderIntent = { symbol: 'IDX', side: 'buy', qty: 2, price: 40, reason: 'signal' };
type Act = ActionPayload['acts'][number];
const order = (over: Partial<Extract<Act['action'], { kind: 'order' }>> = {}): Act => ({
  symbol: 'IDX', record: { cycle: 9, barClose: close, symbol: 'IDX', action: 'skip', clientOrderIds: [] }, action: { kind: 'order', intent, reducing: false, fillAtLevel: false, ...over },
});
const payload = (over: Partial<ActionPayload> = {}): ActionPayload => ({
  barClose: close, cycle: 9, paramsVersion: 1, acts: [order()], snapshot: { positions: {}, totalPnl: 0, kill: { global: false, account: false, deployment: false } }, prices: {}, flatten: false, ...over,
});

test('actSkip: a wake in time while running sends; late, not running, paused or flattened since the close does not, with why', () => {
  expect(actSkip(close, facts)).toEqual({ late: false, why: undefined });
  expect(actSkip(close, { ...facts, dataNow: close + 11 * 60_000 })).toEqual({ late: true, why: 'expired: woken after 2 bar(s) had passed since the close' });
  expect(actSkip(close, { ...facts, dataNow: close + 10 * 60_000 }).late).toBe(false); // exactly staleAfterBars: still in time
  expect(actSkip(close, { ...facts, status: 'stopping', shown: 'stopping' }).why).toBe('deployment stopping since the close');
  expect(actSkip(close, { ...facts, pausedAt: close }).why).toBe('deployment paused since the close');
  expect(actSkip(close, { ...facts, pausedAt: close - 1 }).why).toBeUndefined(); // paused (and resumed) before the close
  expect(actSkip(close, { ...facts, flattenedAt: close + 1 }).why).toBe('deployment flattened since the close');
});

test('simpleOrderAct: only one symbol\'s order with nothing else to do and nothing to skip it for', () => {
  const p = payload();
  expect(simpleOrderAct(p, facts)).toBe(p.acts[0]);
  expect(simpleOrderAct(payload({ acts: [order(), { ...order(), symbol: 'ABC' }] }), facts)).toBeUndefined();
  expect(simpleOrderAct(payload({ acts: [] }), facts)).toBeUndefined();
  expect(simpleOrderAct(payload({ flatten: true }), facts)).toBeUndefined();
  expect(simpleOrderAct(payload({ blockedBy: [] }), facts)).toBeUndefined();
  expect(simpleOrderAct(payload({ fail: 'no broker' }), facts)).toBeUndefined();
  expect(simpleOrderAct(payload({ acts: [order({ fillAtLevel: true })] }), facts)).toBeUndefined();
  expect(simpleOrderAct(payload(), { ...facts, flattenedAt: close })).toBeUndefined();
  expect(simpleOrderAct(payload(), { ...facts, status: 'paused', shown: 'paused' })).toBeUndefined();
});

test('orderInputOf: the client order id of workflow, cycle, leg and version; an entry takes the symbol lock, an exit does not', () => {
  const o = { workflowId: 'deployment-x', deploymentId: 'x', broker: 'paper', accountId: 'acc', cycle: 9, leg: 0, intentVersion: 1, intent, reducing: false, dataTs: close };
  expect(orderInputOf(o)).toEqual({
    clientOrderId: clientOrderId('deployment-x', 9, 0, 1), deploymentId: 'x', workflowId: 'deployment-x', cycle: 9, leg: 0, intentVersion: 1, broker: 'paper', accountId: 'acc',
    symbol: 'IDX', side: 'buy', qty: 2, orderType: 'market', timeInForce: 'day', dataTs: close, symbolLock: { ttlMs: SYMBOL_LOCK_TTL_MS },
  });
  expect(orderInputOf({ ...o, reducing: true })).not.toHaveProperty('symbolLock');
});
