import { randomUUID } from 'node:crypto';
import { AlpacaBroker, type AlpacaCredentials } from '../../brokers/alpaca/adapter';
import type { OrderRequest } from '../../brokers/port';

/** Canary credentials: no error message, log line or answer may ever contain them. */
export const CANARY_KEY_ID = 'PKCANARYKEYID0000000001';
export const CANARY_SECRET = 'canary-secret-7f3b9c1e-do-not-leak-0123456789';
export const CANARY_CREDENTIALS: AlpacaCredentials = { keyId: CANARY_KEY_ID, secretKey: CANARY_SECRET };

/** A paper account nobody else in this run uses, so test files sharing the database never collide. */
export function uniqueAccount(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

export function adapterFor(url: string, opts: { timeoutMs?: number; credentials?: () => AlpacaCredentials } = {}): AlpacaBroker {
  return new AlpacaBroker({ name: 'paper', baseUrl: url, timeoutMs: opts.timeoutMs ?? 5_000, credentials: opts.credentials ?? (() => CANARY_CREDENTIALS) });
}

/** A 36-character client order id, unique in this run. */
export function clientId(): string {
  return randomUUID();
}

export function marketBuy(symbol: string, qty = 1, clientOrderId = clientId()): OrderRequest {
  return { clientOrderId, symbol, side: 'buy', qty, type: 'market', timeInForce: 'day' };
}

export function marketSell(symbol: string, qty = 1, clientOrderId = clientId()): OrderRequest {
  return { clientOrderId, symbol, side: 'sell', qty, type: 'market', timeInForce: 'day' };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
