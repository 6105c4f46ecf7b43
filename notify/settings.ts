import { ConfigError, ConfigSchema, type Config } from '../platform/config';
import { createLogger } from '../platform/logger';
import type { BackoffPolicy } from './backoff';
import { logSender, slackSender, telegramSender, webhookSender, type ChannelSender, type NotifyLogger } from './channels';

/** What the dispatch activity needs: the configured senders and its retry rules. No secret leaves the senders. */
export interface NotifySettings {
  /** the configured channels; `log` is always among them */
  senders: ChannelSender[];
  /** attempts before a notification is dead */
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** rows claimed per round */
  batchSize: number;
  /** rows sent at once within a round (webhook receivers rate-limit bursts) */
  sendConcurrency: number;
  /** a claimed row is due again after this long, in case its dispatcher died mid-send; longer than any send */
  claimLeaseMs: number;
  /** one dispatch activity keeps claiming rounds for at most this long, well inside its start-to-close timeout */
  budgetMs: number;
  /** jitter source; default Math.random */
  random?: () => number;
}

/** Rows per claim: small, so a slow receiver holds few rows and other dispatchers take the rest. */
export const DEFAULT_BATCH_SIZE = 8;
export const DEFAULT_SEND_CONCURRENCY = 4;
/**
 * The dispatch activity's start-to-close is 30 s (dbWrite). No new round starts after 15 s, and a round takes at
 * most (8 / 4) x the send timeout (<= 12 s; 10 s at the default), so an activity ends in time; a claim outlives it.
 */
export const DEFAULT_BUDGET_MS = 15_000;
export const DEFAULT_CLAIM_LEASE_MS = 60_000;

/** Senders (the log channel writes to `logger`) and retry rules from the validated config. A Telegram URL without a chat id (or the reverse) is a config error. */
export function notifySettingsFromConfig(config: NotifyConfig, logger: NotifyLogger): NotifySettings {
  const timeoutMs = config.NOTIFY_SEND_TIMEOUT_MS;
  const senders: ChannelSender[] = [logSender(logger)];
  if (config.NOTIFY_WEBHOOK_URL) senders.push(webhookSender({ url: config.NOTIFY_WEBHOOK_URL, timeoutMs, signingSecret: config.NOTIFY_WEBHOOK_SECRET }));
  if (config.NOTIFY_SLACK_WEBHOOK_URL) senders.push(slackSender({ url: config.NOTIFY_SLACK_WEBHOOK_URL, timeoutMs }));
  if (Boolean(config.NOTIFY_TELEGRAM_URL) !== Boolean(config.NOTIFY_TELEGRAM_CHAT_ID)) {
    throw new ConfigError(['NOTIFY_TELEGRAM_URL and NOTIFY_TELEGRAM_CHAT_ID: set both or neither']);
  }
  if (config.NOTIFY_TELEGRAM_URL && config.NOTIFY_TELEGRAM_CHAT_ID) {
    senders.push(telegramSender({ url: config.NOTIFY_TELEGRAM_URL, chatId: config.NOTIFY_TELEGRAM_CHAT_ID, timeoutMs }));
  }
  if (config.NOTIFY_BACKOFF_MAX_MS < config.NOTIFY_BACKOFF_BASE_MS) throw new ConfigError(['NOTIFY_BACKOFF_MAX_MS: must not be below NOTIFY_BACKOFF_BASE_MS']);
  return {
    senders,
    maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
    backoff: { baseMs: config.NOTIFY_BACKOFF_BASE_MS, maxMs: config.NOTIFY_BACKOFF_MAX_MS },
    batchSize: DEFAULT_BATCH_SIZE,
    sendConcurrency: DEFAULT_SEND_CONCURRENCY,
    claimLeaseMs: DEFAULT_CLAIM_LEASE_MS,
    budgetMs: DEFAULT_BUDGET_MS,
  };
}

/** The variables this module reads (documented in platform/config.ts). */
const NotifyEnvSchema = ConfigSchema.pick({
  NOTIFY_WEBHOOK_URL: true,
  NOTIFY_WEBHOOK_SECRET: true,
  NOTIFY_SLACK_WEBHOOK_URL: true,
  NOTIFY_TELEGRAM_URL: true,
  NOTIFY_TELEGRAM_CHAT_ID: true,
  NOTIFY_MAX_ATTEMPTS: true,
  NOTIFY_BACKOFF_BASE_MS: true,
  NOTIFY_BACKOFF_MAX_MS: true,
  NOTIFY_SEND_TIMEOUT_MS: true,
  LOG_LEVEL: true,
});
export type NotifyConfig = Pick<Config, keyof typeof NotifyEnvSchema.shape>;

/**
 * For an IO worker that was not handed settings: the NOTIFY_* variables, validated by the same schema as the
 * rest of the config (a bad value throws ConfigError at worker start), and a pino logger at LOG_LEVEL.
 */
export function notifySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NotifySettings {
  const parsed = NotifyEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  return notifySettingsFromConfig(parsed.data, createLogger(parsed.data.LOG_LEVEL, { service: 'notify' }));
}
