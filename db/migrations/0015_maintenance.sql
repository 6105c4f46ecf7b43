-- Up Migration

-- One row per pg_dump the backup workflow made (id = its workflow id, so a retried or replayed run writes one row).
-- Rotation deletes only files recorded here, never anything else that lies in the backup directory.
CREATE TABLE backups (
  id          text        PRIMARY KEY,
  file        text        NOT NULL,
  bytes       bigint,
  status      text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'rotated')),
  -- row counts of every table at dump time (exact, read in the dump's snapshot), so a restore can be checked
  row_counts  jsonb       NOT NULL DEFAULT '{}',
  error       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  rotated_at  timestamptz
);
CREATE INDEX backups_completed ON backups (started_at DESC) WHERE status = 'completed';

-- What an operator decided about an entry of the dead-letter view (a failed workflow, a dead notification, an import
-- with rejected bars): resolved entries leave the view; retries are recorded here too. Audited in audit_log as well.
CREATE TABLE dead_letter_actions (
  kind       text        NOT NULL CHECK (kind IN ('workflow', 'notification', 'bar-import')),
  ref        text        NOT NULL,
  action     text        NOT NULL CHECK (action IN ('retried', 'resolved')),
  reason     text        NOT NULL,
  acted_by   text        NOT NULL,
  acted_at   timestamptz NOT NULL DEFAULT now(),
  -- one row per act (a notification may die again after a retry and be retried again)
  id         bigserial   PRIMARY KEY
);
CREATE INDEX dead_letter_actions_ref ON dead_letter_actions (kind, ref);

-- Down Migration
DROP TABLE dead_letter_actions;
DROP TABLE backups;
