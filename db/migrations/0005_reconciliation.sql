-- Up Migration

-- What reconciliation found at a broker that the ledger does not know: an open order or a fill whose client
-- order id no ledger row has (placed by hand, by another system, or lost). Any unresolved row blocks every
-- deployment on that broker account until a human resolves it (recorded here and in the audit log).
CREATE TABLE broker_discrepancies (
  id              bigserial   PRIMARY KEY,
  broker          text        NOT NULL,
  account_id      text        NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('unknown_order', 'unknown_fill')),
  broker_ref      text        NOT NULL,
  client_order_id text        NOT NULL DEFAULT '',
  symbol          text        NOT NULL,
  detail          jsonb       NOT NULL DEFAULT '{}',
  found_by        text        NOT NULL,
  found_at        timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  resolved_by     text,
  resolution      text,
  UNIQUE (broker, account_id, kind, broker_ref)
);
CREATE INDEX broker_discrepancies_open ON broker_discrepancies (broker, account_id) WHERE resolved_at IS NULL;

-- Down Migration

DROP TABLE broker_discrepancies;
