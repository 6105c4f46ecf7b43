/**
 * What order activities import: the port and the Alpaca adapter (which is also the client of the built-in
 * paper broker). The paper broker's server side (brokers/paper/app.ts, start.ts) is not re-exported here,
 * so workers that only talk to a broker do not load fastify.
 */
import { AlpacaBroker, type AlpacaCredentials } from './alpaca/adapter';

export * from './port';
export { AlpacaBroker, type AlpacaCredentials } from './alpaca/adapter';

/**
 * A BrokerPort for the built-in paper broker at `url`. It accepts any key pair unless it was started
 * with PAPER_BROKER_KEY_ID / PAPER_BROKER_SECRET; then pass those through `credentials`.
 */
export function paperBrokerPort(
  url: string,
  opts: { credentials?: () => AlpacaCredentials | Promise<AlpacaCredentials>; timeoutMs?: number } = {},
): AlpacaBroker {
  return new AlpacaBroker({
    name: 'paper',
    baseUrl: url,
    credentials: opts.credentials ?? (() => ({ keyId: 'paper', secretKey: 'paper' })),
    timeoutMs: opts.timeoutMs,
    // The paper broker tags closing orders with the caller's client order id (its extension of Alpaca's API).
    closeWithClientOrderId: true,
  });
}
