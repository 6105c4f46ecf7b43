-- Up Migration

-- The notification outbox: callers insert a row (in their own transaction when they have one), the dispatcher
-- workflow drains it. Delivery is at-least-once; receivers dedupe on the id or dedupe_key they are sent.
CREATE TABLE notifications (
  id                 bigserial   PRIMARY KEY,
  kind               text        NOT NULL,
  severity           text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  subject            text        NOT NULL,
  body               text        NOT NULL DEFAULT '',
  payload            jsonb       NOT NULL DEFAULT '{}',
  -- an activity retry enqueues the same key again and gets the first row back
  dedupe_key         text        NOT NULL UNIQUE,
  -- targets; empty means every channel configured when it is sent
  channels           text[]      NOT NULL DEFAULT '{}' CHECK (channels <@ ARRAY['log', 'webhook', 'slack', 'telegram']),
  -- channels that already accepted it, so a retry after a partial failure resends only to the others
  delivered_channels text[]      NOT NULL DEFAULT '{}',
  status             text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
  attempts           integer     NOT NULL DEFAULT 0,
  -- pending: when it is due; sending: when the claim lapses (its dispatcher died mid-send) and it is due again
  next_attempt_at    timestamptz NOT NULL DEFAULT now(),
  last_error         text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  sent_at            timestamptz
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_recent ON notifications (created_at DESC, id DESC);

-- Down Migration
DROP TABLE notifications;
