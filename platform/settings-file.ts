/**
 * Settings a worker can reload without a restart (SIGHUP or POST /v1/maintenance/settings/reload): the broker rate
 * limits and breaker, the notification channels and retry rules, the data-quality thresholds and the processing-lag
 * alert's threshold.
 *
 * The environment cannot change after start, so reloaded values come from SETTINGS_FILE: a JSON object whose keys are
 * variables of the reloadable set (values as strings or numbers). The file's values override the environment's,
 * and the result is validated by the same ConfigSchema as at start-up, so a bad value is named by its variable.
 * A key outside the set is refused (it needs a restart), and so is a set that disagrees with itself.
 */
import { readFile } from 'node:fs/promises';
import { ConfigSchema, type Config } from './config';

export const RELOADABLE_KEYS = [
  'ALPACA_RATE_LIMIT_PER_MIN',
  'PAPER_BROKER_RATE_LIMIT_PER_MIN',
  'BROKER_RATE_LIMIT_BURST',
  'BROKER_RATE_LIMIT_MAX_WAIT_MS',
  'BROKER_RATE_LIMIT_FALLBACK_SHARE',
  'BROKER_BREAKER_FAILURES',
  'BROKER_BREAKER_FAILURE_RATIO',
  'BROKER_BREAKER_WINDOW_MS',
  'BROKER_BREAKER_COOLDOWN_MS',
  'NOTIFY_WEBHOOK_URL',
  'NOTIFY_WEBHOOK_SECRET',
  'NOTIFY_SLACK_WEBHOOK_URL',
  'NOTIFY_TELEGRAM_URL',
  'NOTIFY_TELEGRAM_CHAT_ID',
  'NOTIFY_MAX_ATTEMPTS',
  'NOTIFY_BACKOFF_BASE_MS',
  'NOTIFY_BACKOFF_MAX_MS',
  'NOTIFY_SEND_TIMEOUT_MS',
  'MARKET_DATA_MISSING_WARNING',
  'MARKET_DATA_MISSING_ERROR',
  'MARKET_DATA_DELAY_WARNING_MS',
  'MARKET_DATA_DELAY_ERROR_MS',
  'PROCESSING_LAG_ALERT_MS',
] as const satisfies ReadonlyArray<keyof Config>;

/** The Redis channel a reload command is published on (its message: a request id), and where workers reply. */
export const SETTINGS_RELOAD_CHANNEL = 'settings:reload';
export const settingsReplyKey = (id: string) => `settings:reload:${id}`;

/** One worker's answer to a reload. */
export interface ReloadOutcome {
  identity: string;
  ok: boolean;
  /** variables whose value changed (applied), when ok */
  changed: string[];
  /** one line per refused value, naming its variable, when not ok */
  problems: string[];
}

export type SettingsOutcome = { ok: true; config: Config; changed: string[] } | { ok: false; problems: string[] };

/** Problems no single variable shows: pairs that must agree. */
export function crossFieldProblems(c: Config): string[] {
  const out: string[] = [];
  const minLimit = Math.min(c.PAPER_BROKER_RATE_LIMIT_PER_MIN, ...(c.ALPACA_KEY_ID ? [c.ALPACA_RATE_LIMIT_PER_MIN] : []));
  if (c.BROKER_RATE_LIMIT_BURST >= minLimit) out.push(`BROKER_RATE_LIMIT_BURST: must be smaller than every broker's rate limit per minute (${minLimit})`);
  if (c.NOTIFY_BACKOFF_MAX_MS < c.NOTIFY_BACKOFF_BASE_MS) out.push('NOTIFY_BACKOFF_MAX_MS: must not be below NOTIFY_BACKOFF_BASE_MS');
  if (Boolean(c.NOTIFY_TELEGRAM_URL) !== Boolean(c.NOTIFY_TELEGRAM_CHAT_ID)) out.push('NOTIFY_TELEGRAM_URL and NOTIFY_TELEGRAM_CHAT_ID: set both or neither');
  if (c.MARKET_DATA_MISSING_ERROR < c.MARKET_DATA_MISSING_WARNING) out.push('MARKET_DATA_MISSING_ERROR: must not be below MARKET_DATA_MISSING_WARNING');
  if (c.MARKET_DATA_DELAY_ERROR_MS < c.MARKET_DATA_DELAY_WARNING_MS) out.push('MARKET_DATA_DELAY_ERROR_MS: must not be below MARKET_DATA_DELAY_WARNING_MS');
  return out;
}

/** The file's variables, or the problems with it. Values are never echoed: some are secrets (webhook URLs). */
export async function readSettingsFile(file: string): Promise<{ vars: Record<string, string> } | { problems: string[] }> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    return { problems: [`SETTINGS_FILE: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { problems: ['SETTINGS_FILE: is not valid JSON'] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problems: ['SETTINGS_FILE: must hold a JSON object of variables'] };
  const vars: Record<string, string> = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (!(RELOADABLE_KEYS as readonly string[]).includes(k)) problems.push(`${k}: is not a reloadable setting (restart to change it)`);
    else if (typeof v === 'string' || typeof v === 'number') vars[k] = String(v);
    else problems.push(`${k}: must be a string or a number`);
  }
  return problems.length ? { problems } : { vars };
}

/** The environment overlaid with SETTINGS_FILE (when set), validated; `changed` lists reloadable keys that differ from `previous`. */
export async function loadSettings(env: NodeJS.ProcessEnv, previous?: Config): Promise<SettingsOutcome> {
  let overlay: Record<string, string> = {};
  if (env.SETTINGS_FILE) {
    const file = await readSettingsFile(env.SETTINGS_FILE);
    if ('problems' in file) return { ok: false, problems: file.problems };
    overlay = file.vars;
  }
  const parsed = ConfigSchema.safeParse({ ...env, ...overlay });
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
  const problems = crossFieldProblems(parsed.data);
  if (problems.length) return { ok: false, problems };
  const changed = previous ? RELOADABLE_KEYS.filter((k) => parsed.data[k] !== previous[k]) : [];
  return { ok: true, config: parsed.data, changed };
}
