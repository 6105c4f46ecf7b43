-- Up Migration

-- When a broker account's fills and open orders were last listed. Every deployment on an account syncs before it
-- decides, but the account-level listing is shared: a deployment whose own fills are all stored skips it when another
-- listed the account moments ago, so N deployments on one account cost the broker a few calls per bar, not 2N.
CREATE TABLE account_syncs (
  broker     text        NOT NULL,
  account_id text        NOT NULL,
  synced_at  timestamptz NOT NULL,
  PRIMARY KEY (broker, account_id)
);

-- Down Migration

DROP TABLE account_syncs;
