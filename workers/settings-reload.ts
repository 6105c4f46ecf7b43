/**
 * Settings reload in a running worker (platform/settings-file.ts says what may change): on SIGHUP, and on a reload
 * command published on Redis by POST /v1/maintenance/settings/reload. Pub/sub because the API must reach every
 * worker at once and learn who answered: PUBLISH returns how many workers listen, and each one pushes its outcome
 * onto a short-lived reply list the API waits on. A worker that was disconnected misses the message and shows up as
 * missing in the API's answer (SIGHUP it, or send the command again).
 *
 * A bad value is refused whole: the problems name the variables, nothing is applied, the previous settings stay.
 * Logs carry variable names only, never values (webhook URLs hold tokens).
 */
import type { Redis } from 'ioredis';
import { ConfigError, type Config } from '../platform/config';
import type { AppLogger } from '../platform/logger';
import { loadSettings, SETTINGS_RELOAD_CHANNEL, settingsReplyKey, type ReloadOutcome } from '../platform/settings-file';

/** Builds a worker part's new settings (throwing ConfigError or ZodError on a value it refuses) and returns the swap. */
export type PrepareReload = (next: Config) => () => void;

export class SettingsReloader {
  private readonly parts: PrepareReload[] = [];
  private running: Promise<ReloadOutcome> = Promise.resolve({ identity: '', ok: true, changed: [], problems: [] });

  constructor(
    private config: Config,
    private readonly identity: string,
    private readonly logger: AppLogger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  add(part: PrepareReload): void {
    this.parts.push(part);
  }

  /** One reload at a time: a second request waits for the first, then reads the file again. */
  reload(source: 'sighup' | 'command'): Promise<ReloadOutcome> {
    this.running = this.running.then(() => this.reloadNow(source));
    return this.running;
  }

  private async reloadNow(source: string): Promise<ReloadOutcome> {
    const loaded = await loadSettings(this.env, this.config);
    let outcome: ReloadOutcome;
    if (!loaded.ok) outcome = { identity: this.identity, ok: false, changed: [], problems: loaded.problems };
    else {
      try {
        const swaps = this.parts.map((prepare) => prepare(loaded.config));
        for (const swap of swaps) swap();
        this.config = loaded.config;
        outcome = { identity: this.identity, ok: true, changed: loaded.changed, problems: [] };
      } catch (err) {
        outcome = { identity: this.identity, ok: false, changed: [], problems: problemsOf(err) };
      }
    }
    if (outcome.ok) this.logger.info({ source, changed: outcome.changed }, 'settings reloaded');
    else this.logger.warn({ source, problems: outcome.problems }, 'settings reload refused; previous settings stay in force');
    return outcome;
  }

  /** SIGHUP and the Redis command; returns the stop function. */
  listen(redis: Redis): () => Promise<void> {
    const onHup = () => void this.reload('sighup');
    process.on('SIGHUP', onHup);
    const sub = redis.duplicate();
    sub.on('error', (err: Error) => this.logger.debug({ error: err.message }, 'settings subscriber error'));
    sub.on('message', (_channel: string, message: string) => {
      const id = /^[A-Za-z0-9-]{1,64}$/.test(message) ? message : null;
      if (!id) return;
      void this.reload('command').then(async (o) => {
        const key = settingsReplyKey(id);
        await redis.multi().rpush(key, JSON.stringify(o)).pexpire(key, 60_000).exec();
      }).catch((err: Error) => this.logger.warn({ error: err.message }, 'settings reload reply not written'));
    });
    // Subscribed once connected (the client queues nothing offline), and again after each reconnect.
    sub.on('ready', () => void sub.subscribe(SETTINGS_RELOAD_CHANNEL).catch((err: Error) => this.logger.warn({ error: err.message }, 'settings reload channel not subscribed')));
    return async () => {
      process.off('SIGHUP', onHup);
      sub.disconnect();
    };
  }
}

function problemsOf(err: unknown): string[] {
  if (err instanceof ConfigError) return err.problems;
  const issues = (err as { issues?: Array<{ path: PropertyKey[]; message: string }> })?.issues;
  if (Array.isArray(issues)) return issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return [`unexpected ${(err as Error)?.name ?? 'error'}`];
}
