/**
 * Channel senders: the log, a generic JSON webhook, and Slack- and Telegram-format webhooks. Webhook URLs carry
 * tokens, so they live only inside the senders: never in errors, logs, activity arguments or results.
 */
import { createHmac } from 'node:crypto';
import type { Channel, NotificationMessage, Severity } from './message';

/** A failed delivery; `retryAfterMs` when the receiver said when to come back (429 / Retry-After). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface ChannelSender {
  readonly channel: Channel;
  /** resolves when the receiver accepted the message; throws DeliveryError otherwise */
  send(message: NotificationMessage): Promise<void>;
}

/** The part of pino the log channel uses. */
export interface NotifyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const LOG_LEVEL: Record<Severity, 'info' | 'warn' | 'error'> = { info: 'info', warning: 'warn', critical: 'error' };

/** Writes the notification to the process log (always on). */
export function logSender(logger: NotifyLogger): ChannelSender {
  return {
    channel: 'log',
    async send(m) {
      logger[LOG_LEVEL[m.severity]](
        { notification: { id: m.id, dedupeKey: m.dedupeKey, kind: m.kind, severity: m.severity, attempt: m.attempt, body: m.body, payload: m.payload } },
        `notification: ${m.subject}`,
      );
    },
  };
}

export interface WebhookTarget {
  url: string;
  timeoutMs: number;
}

/** The generic webhook's JSON body. */
export function webhookPayload(m: NotificationMessage) {
  return {
    id: m.id,
    dedupeKey: m.dedupeKey,
    kind: m.kind,
    severity: m.severity,
    subject: m.subject,
    body: m.body,
    payload: m.payload,
    createdAt: m.createdAt.toISOString(),
    attempt: m.attempt,
  };
}

/**
 * POSTs webhookPayload. Receivers dedupe on the `Idempotency-Key` header (delivery is at-least-once); with a signing
 * secret, `X-Signature-256: sha256=<hex HMAC of the body>` lets them check it came from us.
 */
export function webhookSender(target: WebhookTarget & { signingSecret?: string }): ChannelSender {
  return {
    channel: 'webhook',
    async send(m) {
      const body = JSON.stringify(webhookPayload(m));
      const headers: Record<string, string> = { 'idempotency-key': `notification-${m.id}` };
      if (target.signingSecret) headers['x-signature-256'] = `sha256=${createHmac('sha256', target.signingSecret).update(body).digest('hex')}`;
      await postJson(target, body, headers, [target.signingSecret]);
    },
  };
}

const SLACK_ICON: Record<Severity, string> = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' };

/** Slack incoming-webhook format: `text` is the fallback shown in notifications, `blocks` the message. */
export function slackPayload(m: NotificationMessage) {
  const blocks: object[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(m.subject, 150), emoji: true } }];
  if (m.body) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(escapeSlack(m.body), 3000) } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(`${m.severity} · ${m.kind} · #${m.id}`) }] });
  return { text: `${SLACK_ICON[m.severity]} [${m.severity.toUpperCase()}] ${escapeSlack(m.subject)}`, blocks };
}

export function slackSender(target: WebhookTarget): ChannelSender {
  return {
    channel: 'slack',
    async send(m) {
      await postJson(target, JSON.stringify(slackPayload(m)), {});
    },
  };
}

const TELEGRAM_ICON: Record<Severity, string> = { info: 'ℹ️', warning: '⚠️', critical: '🚨' };

/** Telegram Bot API sendMessage format; plain text (no parse_mode), so nothing needs escaping. */
export function telegramPayload(m: NotificationMessage, chatId: string) {
  const parts = [`${TELEGRAM_ICON[m.severity]} [${m.severity.toUpperCase()}] ${m.subject}`];
  if (m.body) parts.push(m.body);
  parts.push(`${m.kind} · #${m.id}`);
  return { chat_id: chatId, text: truncate(parts.join('\n\n'), 4096), link_preview_options: { is_disabled: true } };
}

/** `url` is the full sendMessage endpoint (it carries the bot token). Telegram answers `{ ok: false }` on refusal. */
export function telegramSender(target: WebhookTarget & { chatId: string }): ChannelSender {
  return {
    channel: 'telegram',
    async send(m) {
      const answer = await postJson(target, JSON.stringify(telegramPayload(m, target.chatId)), {});
      let parsed: { ok?: boolean; description?: string } | undefined;
      try {
        parsed = JSON.parse(answer) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      if (parsed && parsed.ok === false) throw new DeliveryError(`refused: ${scrub(String(parsed.description ?? ''), [target.url]).slice(0, 100)}`);
    },
  };
}

/** POST with a timeout; any non-2xx is a DeliveryError whose message names the status, never the URL. Returns the answer's text. */
async function postJson(target: WebhookTarget, body: string, headers: Record<string, string>, secrets: Array<string | undefined> = []): Promise<string> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'durable-trader-notify', ...headers },
      body,
      // A redirect would send the message somewhere nobody configured.
      redirect: 'error',
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (err) {
    throw new DeliveryError(describeFetchFailure(err, target.timeoutMs));
  }
  const text = await res.text().catch(() => '');
  if (res.ok) return text;
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after')) ?? telegramRetryAfter(text);
  const detail = scrub(text.trim(), [target.url, ...secrets]).slice(0, 100);
  throw new DeliveryError(`HTTP ${res.status}${detail ? `: ${detail}` : ''}`, retryAfterMs);
}

/** What went wrong, from error names and codes only: fetch's messages may name the host and path. */
function describeFetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const code = e?.cause?.code ?? e?.cause?.name;
  return code ? `request failed (${code})` : 'request failed';
}

/** Retry-After as seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** Telegram puts the wait in the body of a 429: `{ parameters: { retry_after: <seconds> } }`. */
function telegramRetryAfter(text: string): number | undefined {
  try {
    const s = (JSON.parse(text) as { parameters?: { retry_after?: unknown } })?.parameters?.retry_after;
    return typeof s === 'number' && s >= 0 ? s * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Removes every occurrence of the secrets (and of a URL's path, where tokens usually sit). */
function scrub(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (!s) continue;
    const parts = [s];
    try {
      const u = new URL(s);
      if (u.pathname.length > 1) parts.push(u.pathname);
    } catch {
      // not a URL: the secret itself is enough
    }
    for (const p of parts) out = out.split(p).join('[redacted]');
  }
  return out;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack mrkdwn needs only these three escaped. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
