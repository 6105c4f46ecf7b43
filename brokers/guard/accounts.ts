import { createHash } from 'node:crypto';
import { guardKeyFor } from './settings';

/** What names a broker account in the configuration (the same variables the IO worker and the API read). */
export interface BrokerAccountConfig {
  PAPER_BROKER_URL: string;
  ALPACA_BASE_URL: string;
  ALPACA_KEY_ID?: string;
}

/**
 * The guard key (broker:account) of each configured broker: one paper broker process serves one account, so its
 * address names it; an Alpaca account is named by its host and a hash of the key id (the key id never shows in Redis,
 * logs or /health). The IO worker guards its brokers under these keys; the API reads their circuit by them.
 */
export function brokerGuardKeys(config: BrokerAccountConfig): Partial<Record<'paper' | 'alpaca', string>> {
  const keys: Partial<Record<'paper' | 'alpaca', string>> = { paper: guardKeyFor('paper', new URL(config.PAPER_BROKER_URL).host) };
  if (config.ALPACA_KEY_ID) keys.alpaca = guardKeyFor('alpaca', `${new URL(config.ALPACA_BASE_URL).host}/${createHash('sha256').update(config.ALPACA_KEY_ID).digest('hex').slice(0, 12)}`);
  return keys;
}
