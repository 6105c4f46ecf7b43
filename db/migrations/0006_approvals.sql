-- Up Migration

-- A trade put to humans by a deployment cycle. The row is the arbiter: the API records decisions here (with the
-- approver's identity) before it signals the approval workflow, and the workflow only follows what it finds here.
CREATE TABLE approvals (
  id                     uuid             PRIMARY KEY,
  deployment_id          uuid             NOT NULL,
  workflow_id            text             NOT NULL UNIQUE,
  deployment_workflow_id text             NOT NULL,
  cycle_seq              integer          NOT NULL,
  leg                    integer          NOT NULL,
  account_id             text             NOT NULL,
  symbol                 text             NOT NULL,
  side                   text             NOT NULL CHECK (side IN ('buy', 'sell')),
  qty                    double precision NOT NULL CHECK (qty > 0),
  price                  double precision NOT NULL,
  notional               double precision NOT NULL,
  reason                 jsonb            NOT NULL DEFAULT '{}',
  required_approvals     integer          NOT NULL CHECK (required_approvals BETWEEN 1 AND 5),
  status                 text             NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'executed', 'failed')),
  requested_by           text             NOT NULL,
  expires_at             timestamptz      NOT NULL,
  decided_at             timestamptz,
  client_order_id        text,
  outcome                text,
  created_at             timestamptz      NOT NULL DEFAULT now(),
  updated_at             timestamptz      NOT NULL DEFAULT now(),
  UNIQUE (deployment_id, cycle_seq, leg)
);
-- Never two requests in flight for one deployment and symbol (pending, or approved and not yet placed).
CREATE UNIQUE INDEX approvals_one_open_per_symbol ON approvals (deployment_id, symbol) WHERE status IN ('pending', 'approved');
CREATE INDEX approvals_status ON approvals (status, created_at);

-- One decision per approver and request; the primary key is what makes a repeated decision a conflict.
CREATE TABLE approval_decisions (
  approval_id uuid        NOT NULL REFERENCES approvals (id),
  approver    text        NOT NULL,
  decision    text        NOT NULL CHECK (decision IN ('approve', 'reject')),
  reason      text,
  decided_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (approval_id, approver)
);

-- Down Migration
DROP TABLE approval_decisions;
DROP TABLE approvals;
