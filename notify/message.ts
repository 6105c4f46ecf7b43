/**
 * What a notification is, independent of where it goes: the outbox row's content and its validation.
 * Pure (no I/O), so workflows may import its types.
 */
import { z } from 'zod';

/** Delivery channels. `log` is always configured; the others exist when their webhook is configured. */
export const CHANNELS = ['log', 'webhook', 'slack', 'telegram'] as const;
export type Channel = (typeof CHANNELS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const NOTIFICATION_STATUSES = ['pending', 'sending', 'sent', 'dead'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** Dotted lower-case names, e.g. 'reconciliation.unknown_order', 'approval.requested'. */
export const KIND_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
/** Largest payload accepted (serialized JSON): notifications point at data, they do not carry it. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

export const NotificationInputSchema = z.strictObject({
  kind: z.string().max(100).regex(KIND_PATTERN, { error: 'kind must be dotted lower-case words, e.g. reconciliation.unknown_order' }),
  severity: z.enum(SEVERITIES).default('info'),
  subject: z.string().trim().min(1).max(200),
  body: z.string().max(4000).default(''),
  payload: z
    .record(z.string(), z.unknown())
    .default({})
    .refine((p) => new TextEncoder().encode(JSON.stringify(p)).length <= MAX_PAYLOAD_BYTES, { error: `payload must serialize to at most ${MAX_PAYLOAD_BYTES} bytes` }),
  /** the same key enqueues once, however often the caller retries (e.g. `discrepancy:<id>`, `<workflowId>:approval:<n>`) */
  dedupeKey: z.string().min(1).max(200),
  /** where to deliver; omitted or empty = every configured channel */
  channels: z
    .array(z.enum(CHANNELS))
    .max(CHANNELS.length)
    .default([])
    .refine((c) => new Set(c).size === c.length, { error: 'channels must not repeat' }),
});

/** What callers pass (defaults not applied yet). */
export type NotificationInput = z.input<typeof NotificationInputSchema>;

/** One notification as the channels see it. */
export interface NotificationMessage {
  id: string;
  dedupeKey: string;
  kind: string;
  severity: Severity;
  subject: string;
  body: string;
  payload: Record<string, unknown>;
  createdAt: Date;
  /** 1 on the first delivery attempt */
  attempt: number;
}
