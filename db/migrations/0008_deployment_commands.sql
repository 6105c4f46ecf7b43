-- Up Migration

-- Every message that changes a deployment is a command the API records here (and commits) before it tells the
-- runtime; the message carries only the command's id. The runtime loads the row, checks that it belongs to its
-- deployment and is still 'recorded', and applies what the row says with a compare-and-set (recorded -> applied or
-- refused) in the same transaction that changes the deployments row and writes the audit row. A message whose id
-- nobody recorded changes nothing. The API cancels a command (recorded -> cancelled) only when it could not reach
-- Temporal and answers 503.
CREATE TABLE deployment_commands (
  id            uuid        PRIMARY KEY,
  deployment_id uuid        NOT NULL REFERENCES deployments (id),
  kind          text        NOT NULL CHECK (kind IN ('pause', 'resume', 'stop', 'flatten', 'params', 'breaker-reset')),
  -- params: { version, params } (the version assigned by the API under the deployment's row lock); reason
  payload       jsonb       NOT NULL DEFAULT '{}',
  requested_by  text        NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  state         text        NOT NULL DEFAULT 'recorded' CHECK (state IN ('recorded', 'applied', 'refused', 'cancelled')),
  -- what the runtime answered (status, cycle, params version, why refused)
  result        jsonb,
  applied_at    timestamptz
);
-- The runtime picks up recorded commands whose message was lost (one indexed read per cycle).
CREATE INDEX deployment_commands_recorded ON deployment_commands (deployment_id, requested_at, id) WHERE state = 'recorded';
CREATE INDEX deployment_commands_deployment ON deployment_commands (deployment_id, requested_at);

-- stopping: a stop was applied and an order is still being resolved; failed: a configuration error ended it.
ALTER TABLE deployments DROP CONSTRAINT deployments_status_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_status_check CHECK (status IN ('running', 'paused', 'blocked', 'stopping', 'stopped', 'failed'));
ALTER TABLE deployments ADD COLUMN status_reason text;

-- What an order still in flight has been through: attempts known not to have reached the broker (connection
-- refused, the broker guard's refusal) and the last error. When every attempt is known unsent, a stop may cancel it;
-- otherwise it is resolved by a lookup at the broker.
ALTER TABLE order_ledger ADD COLUMN unsent_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE order_ledger ADD COLUMN last_error text;

-- Runtime audit rows carry a key (detail.key); a retried write finds it and writes nothing.
CREATE UNIQUE INDEX audit_log_once ON audit_log (action, subject, (detail->>'key')) WHERE detail ? 'key';

-- Down Migration
DROP INDEX audit_log_once;
ALTER TABLE order_ledger DROP COLUMN last_error;
ALTER TABLE order_ledger DROP COLUMN unsent_attempts;
ALTER TABLE deployments DROP COLUMN status_reason;
ALTER TABLE deployments DROP CONSTRAINT deployments_status_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_status_check CHECK (status IN ('running', 'paused', 'stopped', 'blocked'));
DROP TABLE deployment_commands;
