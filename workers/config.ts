import path from 'node:path';
import { z } from 'zod';

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

/** Every environment variable the platform reads, with its default. Documented in the README. */
export const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
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
  ALPACA_DATA_URL: url(['http', 'https']).default('https://data.alpaca.markets'),
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
