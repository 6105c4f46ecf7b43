import path from 'node:path';
import { z } from 'zod';
import { TIMEFRAMES } from '../domain/bars';

export const ROLES = ['viewer', 'trader', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKey {
  key: string;
  role: Role;
  name: string;
}

const REPO_ROOT = path.resolve(__dirname, '..');

const url = (protocols: string[]) =>
  z
    .string()
    .min(1, 'is required')
    .refine((v) => protocols.some((p) => v.startsWith(`${p}://`)), `must be a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`);

const apiKeys = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const keys: ApiKey[] = [];
    for (const [i, entry] of raw.split(',').map((e) => e.trim()).filter(Boolean).entries()) {
      const [key, role, name, ...rest] = entry.split(':');
      // Never echo the entry itself: it holds the secret.
      if (rest.length || !key || !role || !name) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must look like key:role:name` });
      } else if (!(ROLES as readonly string[]).includes(role)) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} has role "${role}"; expected one of ${ROLES.join(', ')}` });
      } else if (key.length < 16) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} (${name}) has a key shorter than 16 characters` });
      } else {
        keys.push({ key, role: role as Role, name });
      }
    }
    if (new Set(keys.map((k) => k.key)).size !== keys.length) ctx.addIssue({ code: 'custom', message: 'two entries share a key' });
    return keys;
  });

const duration = z.coerce.number().int().nonnegative();
/** Unset or empty: that feature is off (compose files pass empty strings for unset variables). */
const unlessEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

/** Every environment variable the platform reads, with its default. Documented in the README. */
export const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  /** this process's Prometheus endpoint (GET /metrics); unset: none. `npm start` gives the API, CPU and IO worker 9464, 9465, 9466 */
  METRICS_PORT: unlessEmpty(z.coerce.number().int().min(1).max(65535)),
  METRICS_HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: url(['postgres', 'postgresql']),
  REDIS_URL: url(['redis', 'rediss']),
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_URL: url(['http', 'https']).default('http://127.0.0.1:8233'),
  API_KEYS: apiKeys,
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(64).default(4),
  /** connections for order submissions, each held across one broker call (the kill-switch gate) */
  ORDER_GATE_POOL_MAX: z.coerce.number().int().min(1).max(256).default(16),
  CPU_ACTIVITY_SLOTS: z.coerce.number().int().min(1).max(64).default(2),
  /** bar series a CPU worker keeps loaded for stress-scan batches (a 500k-bar series is 24 MB) */
  SCAN_BAR_CACHE_MB: z.coerce.number().int().min(0).max(65_536).default(256),
  /**
   * threads that run workflow code in each worker (the SDK's workflowThreadPoolSize, 1 by default): at a bar close
   * one thread was the runtime's bottleneck; 2 gave N=500 p99 15.4 s against 20.0 s (bench runtime, one run each)
   */
  WORKFLOW_THREADS: z.coerce.number().int().min(1).max(16).default(2),
  /**
   * how workflow code's time limit is enforced: one timer on the worker's main thread ('main-thread'; a loop that
   * overruns ends the process), or the SDK's own watchdog thread per entry into workflow code ('per-call')
   */
  WORKFLOW_CALL_WATCH: z.enum(['main-thread', 'per-call']).default('main-thread'),
  WORKFLOW_BUNDLE_DIR: z.string().default(path.join(REPO_ROOT, 'dist', 'bundles')),
  SHUTDOWN_GRACE_MS: duration.default(30_000),
  SHUTDOWN_FORCE_MS: duration.default(60_000),
  MAX_IMPORT_BYTES: z.coerce.number().int().positive().default(200 * 1024 * 1024),
  /** the built-in paper broker (Alpaca-compatible HTTP service started by npm start) */
  PAPER_BROKER_URL: url(['http', 'https']).default('http://127.0.0.1:8789'),
  /** Alpaca paper/live trading and market data; the alpaca broker is registered only when both keys are set */
  ALPACA_KEY_ID: z.string().optional(),
  ALPACA_SECRET_KEY: z.string().optional(),
  ALPACA_BASE_URL: url(['http', 'https']).default('https://paper-api.alpaca.markets'),
  /** broker guard (brokers/guard): requests per minute per broker account, shared by all IO workers through Redis */
  ALPACA_RATE_LIMIT_PER_MIN: z.coerce.number().positive().max(1_000_000).default(200),
  /** the paper broker enforces no limit; this one only stops runaway loops (replays at 60x send 60x the calls) */
  PAPER_BROKER_RATE_LIMIT_PER_MIN: z.coerce.number().positive().max(1_000_000).default(6_000),
  BROKER_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(10),
  /** a call waits this long at most for a token (order submissions wait inside the kill-switch gate) */
  BROKER_RATE_LIMIT_MAX_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  /** share of each limit one worker allows itself while Redis is unreachable (the guard fails open) */
  BROKER_RATE_LIMIT_FALLBACK_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
  /** the circuit opens after this many broker failures (5xx, timeouts, 429s, connection errors) in the window ... */
  BROKER_BREAKER_FAILURES: z.coerce.number().int().min(1).default(10),
  /** ... that are also at least this share of the window's calls */
  BROKER_BREAKER_FAILURE_RATIO: z.coerce.number().min(0).max(1).default(0.5),
  BROKER_BREAKER_WINDOW_MS: z.coerce.number().int().min(1).max(3_600_000).default(30_000),
  BROKER_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(1).max(3_600_000).default(30_000),
  /**
   * market-data feeds the platform runs, `provider:timeframe` comma-separated (e.g. `alpaca:1m,replay:5m`); each is
   * one workflow that refreshes the symbols of the running deployments with that dataProvider and timeframe
   */
  MARKET_DATA_FEEDS: z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const feeds = raw.split(',').map((e) => e.trim()).filter(Boolean).map((e) => e.split(':'));
      for (const f of feeds) if (f.length !== 2 || !['alpaca', 'replay'].includes(f[0]!) || !(TIMEFRAMES as readonly string[]).includes(f[1]!)) ctx.addIssue({ code: 'custom', message: `"${f.join(':')}" must look like alpaca:1m or replay:5m` });
      return feeds.map(([provider, timeframe]) => ({ provider: provider!, timeframe: timeframe! }));
    }),
  /**
   * a feed refreshes this long after each bar close (the provider publishes a bar a moment after it closes); a bar
   * not there yet is asked for again every LATE_POLL ms, so a short settle costs a request, never a bar
   */
  MARKET_DATA_SETTLE_MS: z.coerce.number().int().min(0).max(300_000).default(1_000),
  /** a symbol whose bar has not come is asked again every LATE_POLL ms for up to LATE_WAIT ms (then it is missing) */
  MARKET_DATA_LATE_WAIT_MS: z.coerce.number().int().min(0).max(120_000).default(20_000),
  MARKET_DATA_LATE_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  /** data-quality levels (DESIGN.md): a missing share (0..1) or a delay strictly above a threshold reaches its level */
  MARKET_DATA_MISSING_WARNING: z.coerce.number().min(0).max(1).default(0.05),
  MARKET_DATA_MISSING_ERROR: z.coerce.number().min(0).max(1).default(0.2),
  MARKET_DATA_DELAY_WARNING_MS: z.coerce.number().int().min(0).default(300_000),
  MARKET_DATA_DELAY_ERROR_MS: z.coerce.number().int().min(0).default(600_000),
  /** bar close to cycle done above this (live bars) alerts through the outbox, once per deployment and hour */
  PROCESSING_LAG_ALERT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** a JSON file of variables from the reloadable set that workers read at start and again on SIGHUP or a reload command */
  SETTINGS_FILE: unlessEmpty(z.string().min(1)),
  /** Alpaca's Market Data API (same keys as trading); requests per minute shared by all IO workers through Redis */
  ALPACA_DATA_URL: url(['http', 'https']).default('https://data.alpaca.markets'),
  ALPACA_DATA_FEED: z.enum(['iex', 'sip']).default('iex'),
  ALPACA_DATA_RATE_LIMIT_PER_MIN: z.coerce.number().positive().default(200),
  /** the replay provider (a live-feed simulator over stored bars): served=source pairs, e.g. `DEMO=IDX` */
  REPLAY_SYMBOLS: z
    .string()
    .default('')
    .transform((raw, ctx) => {
      const out: Record<string, string> = {};
      for (const e of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
        const m = /^([A-Z0-9._-]{1,32})=([A-Z0-9._-]{1,32})$/.exec(e);
        if (!m || m[1] === m[2]) ctx.addIssue({ code: 'custom', message: `"${e}" must look like DEMO=IDX (served symbol = a stored source symbol, not the same)` });
        else out[m[1]!] = m[2]!;
      }
      return out;
    }),
  /** the timeframe the replay's sources are stored in (others are aggregated from it, following the session) */
  REPLAY_TIMEFRAME: z.enum(TIMEFRAMES).default('1m'),
  /** data time the replay clock starts at (ISO), and how many times faster than the wall clock it runs */
  REPLAY_FROM: unlessEmpty(z.iso.datetime({ offset: true })),
  REPLAY_SPEED: z.coerce.number().positive().max(3_600).default(1),
  /** notification channels (notify/): the log always, each webhook when its URL is set; the URLs carry tokens (secrets) */
  NOTIFY_WEBHOOK_URL: unlessEmpty(url(['http', 'https'])),
  /** HMAC key for the generic webhook's X-Signature-256 header */
  NOTIFY_WEBHOOK_SECRET: unlessEmpty(z.string().min(16, 'must be at least 16 characters')),
  NOTIFY_SLACK_WEBHOOK_URL: unlessEmpty(url(['http', 'https'])),
  /** the Telegram Bot API sendMessage URL (with the bot token); needs NOTIFY_TELEGRAM_CHAT_ID */
  NOTIFY_TELEGRAM_URL: unlessEmpty(url(['http', 'https'])),
  NOTIFY_TELEGRAM_CHAT_ID: unlessEmpty(z.string().regex(/^(-?\d+|@\w{4,})$/, 'must be a numeric chat id or @channelname')),
  /** delivery attempts before a notification is dead; retries back off exponentially from BASE to MAX, with jitter */
  NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),
  NOTIFY_BACKOFF_BASE_MS: z.coerce.number().int().min(1).default(10_000),
  NOTIFY_BACKOFF_MAX_MS: z.coerce.number().int().min(1).default(3_600_000),
  /** per webhook request; capped so a dispatch round always ends inside its activity's 30 s limit */
  NOTIFY_SEND_TIMEOUT_MS: z.coerce.number().int().min(100).max(6_000).default(5_000),
  /** how often the dispatcher looks at the outbox when nothing wakes it (the IO workers' outbox listener wakes it for every row enqueued: services/outbox-listener.ts) */
  NOTIFY_POLL_MS: z.coerce.number().int().min(100).default(60_000),
  /** whether IO workers start the end-of-day scheduler (liquidations at the close, daily summaries); off for tools that share a server */
  EOD_SCHEDULER: z.enum(['on', 'off'], { error: 'EOD_SCHEDULER must be on or off' }).default('on'),
  /** maintenance (platform/schedules.ts): pg_dump backups into BACKUP_DIR every BACKUP_EVERY_HOURS (0: no Schedule), the newest BACKUP_KEEP kept */
  BACKUP_DIR: z.string().min(1).default(path.join(REPO_ROOT, '.local', 'backups')),
  BACKUP_KEEP: z.coerce.number().int().min(1).max(1_000).default(7),
  BACKUP_EVERY_HOURS: z.coerce.number().min(0).max(24 * 31).default(24),
  /** where pg_dump lives (its major version must be at least the server's); unset: the one on PATH */
  PG_BIN_DIR: unlessEmpty(z.string().min(1)),
  /** a queued or running job older than this whose workflow is closed or gone is failed, every STALE_JOB_SWEEP_MINUTES */
  STALE_JOB_AFTER_MS: z.coerce.number().int().min(60_000).default(600_000),
  STALE_JOB_SWEEP_MINUTES: z.coerce.number().int().min(1).max(1_440).default(10),
});

export type Config = z.infer<typeof ConfigSchema>;

/** A configuration problem, one line per bad variable, safe to print (values are never echoed). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once at start-up; a bad value stops the process with every problem listed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
}

/** Secret values in the config, for redaction checks and log scrubbing. */
export function configSecrets(config: Config): string[] {
  const secrets = config.API_KEYS.map((k) => k.key);
  if (config.ALPACA_KEY_ID) secrets.push(config.ALPACA_KEY_ID);
  if (config.ALPACA_SECRET_KEY) secrets.push(config.ALPACA_SECRET_KEY);
  for (const s of [config.NOTIFY_WEBHOOK_URL, config.NOTIFY_WEBHOOK_SECRET, config.NOTIFY_SLACK_WEBHOOK_URL, config.NOTIFY_TELEGRAM_URL]) if (s) secrets.push(s);
  for (const u of [config.DATABASE_URL, config.REDIS_URL]) {
    const password = safeUrl(u)?.password;
    if (password) secrets.push(decodeURIComponent(password));
  }
  return secrets.filter((s) => s.length >= 4);
}

/** A URL with its password replaced, for logs and /health. */
export function redactUrl(value: string): string {
  const u = safeUrl(value);
  if (!u) return '(unparsable url)';
  if (u.password) u.password = '***';
  return u.toString();
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
