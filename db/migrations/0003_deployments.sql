-- Up Migration

CREATE TABLE deployments (
  id             uuid        PRIMARY KEY,
  workflow_id    text        NOT NULL UNIQUE,
  account_id     text        NOT NULL,
  broker         text        NOT NULL,
  strategy       text        NOT NULL,
  spec           jsonb       NOT NULL,
  params_version integer     NOT NULL DEFAULT 1,
  status         text        NOT NULL CHECK (status IN ('running', 'paused', 'stopped', 'blocked')),
  created_by     text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Every params version a deployment ever ran with, so each audit row can name the exact params.
CREATE TABLE deployment_params (
  deployment_id uuid        NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  version       integer     NOT NULL,
  params        jsonb       NOT NULL,
  created_by    text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (deployment_id, version)
);

-- The idempotency ledger: one row per client order id, written before the broker is called.
CREATE TABLE order_ledger (
  client_order_id  text             PRIMARY KEY,
  deployment_id    uuid             NOT NULL,
  workflow_id      text             NOT NULL,
  cycle_seq        integer          NOT NULL,
  leg              integer          NOT NULL,
  intent_version   integer          NOT NULL,
  broker           text             NOT NULL,
  account_id       text             NOT NULL,
  symbol           text             NOT NULL,
  side             text             NOT NULL CHECK (side IN ('buy', 'sell')),
  qty              double precision NOT NULL CHECK (qty > 0),
  order_type       text             NOT NULL,
  limit_price      double precision,
  time_in_force    text             NOT NULL,
  intent_hash      text             NOT NULL,
  state            text             NOT NULL CHECK (state IN ('INTENT', 'SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL', 'FILLED', 'REJECTED', 'CANCELED')),
  broker_order_id  text,
  filled_qty       double precision NOT NULL DEFAULT 0,
  avg_fill_price   double precision,
  reject_reason    text,
  submit_attempts  integer          NOT NULL DEFAULT 0,
  created_at       timestamptz      NOT NULL DEFAULT now(),
  updated_at       timestamptz      NOT NULL DEFAULT now(),
  UNIQUE (workflow_id, cycle_seq, leg, intent_version)
);
CREATE INDEX order_ledger_deployment ON order_ledger (deployment_id, created_at);
CREATE INDEX order_ledger_open ON order_ledger (deployment_id) WHERE state IN ('INTENT', 'SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL');

-- Fills are unique on the broker's fill id, so stream and polling duplicates collapse.
CREATE TABLE fills (
  broker           text             NOT NULL,
  broker_fill_id   text             NOT NULL,
  client_order_id  text             NOT NULL REFERENCES order_ledger (client_order_id),
  deployment_id    uuid             NOT NULL,
  symbol           text             NOT NULL,
  side             text             NOT NULL CHECK (side IN ('buy', 'sell')),
  qty              double precision NOT NULL CHECK (qty > 0),
  price            double precision NOT NULL,
  ts               timestamptz      NOT NULL,
  PRIMARY KEY (broker, broker_fill_id)
);
CREATE INDEX fills_deployment ON fills (deployment_id, ts);

-- How far fills have been read from each broker account (the broker's gap-free fill cursor).
CREATE TABLE fill_cursors (
  broker        text        NOT NULL,
  account_id    text        NOT NULL,
  last_fill_id  text        NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (broker, account_id)
);

-- One audit row per runtime cycle: why, when, with which params and what came of it.
CREATE TABLE deployment_cycles (
  deployment_id  uuid        NOT NULL,
  cycle_seq      integer     NOT NULL,
  symbol         text        NOT NULL,
  bar_close      timestamptz NOT NULL,
  action         text        NOT NULL,
  reason         text,
  signal         double precision,
  indicators     jsonb       NOT NULL DEFAULT '{}',
  risk           jsonb,
  client_order_ids text[]    NOT NULL DEFAULT '{}',
  params_version integer     NOT NULL,
  position_qty   double precision,
  realized_pnl   double precision,
  unrealized_pnl double precision,
  latency_ms     integer,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (deployment_id, cycle_seq, symbol)
);

-- Kill switch: a row per scope; checked in the database right before every broker call.
CREATE TABLE trading_halts (
  scope      text        NOT NULL CHECK (scope IN ('global', 'account', 'deployment')),
  scope_id   text        NOT NULL DEFAULT '',
  active     boolean     NOT NULL,
  reason     text        NOT NULL,
  set_by     text        NOT NULL,
  set_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, scope_id)
);

-- Append-only record of human and system actions (kill switch, breaker resets, deployment changes).
CREATE TABLE audit_log (
  id       bigserial   PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text        NOT NULL,
  action   text        NOT NULL,
  subject  text        NOT NULL,
  detail   jsonb       NOT NULL DEFAULT '{}'
);

-- Down Migration
DROP TABLE audit_log;
DROP TABLE trading_halts;
DROP TABLE deployment_cycles;
DROP TABLE fill_cursors;
DROP TABLE fills;
DROP TABLE order_ledger;
DROP TABLE deployment_params;
DROP TABLE deployments;
