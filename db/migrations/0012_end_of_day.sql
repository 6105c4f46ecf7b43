-- Up Migration

-- End-of-day liquidation, daily summaries and symbol locks (issue 13).

-- A deployment shows 'exiting' (API) while an eod_reduce_only window covers it; its row status is left as the runtime wrote it.

-- Accounts an admin configured for liquidation: every position of the account is closed each trading day at the
-- close minus margin_minutes (accounts without a row are liquidated only for their deployments with an eod policy).
CREATE TABLE liquidation_accounts (
  account_id     text        PRIMARY KEY,
  broker         text        NOT NULL,
  margin_minutes integer     NOT NULL CHECK (margin_minutes BETWEEN 2 AND 120),
  enabled        boolean     NOT NULL DEFAULT true,
  set_by         text        NOT NULL,
  set_at         timestamptz NOT NULL DEFAULT now()
);

-- One liquidation per account and trading day (the unique key makes two triggers one). The platform records the row,
-- then starts eodLiquidationWorkflow with workflow id = workflow_id; the workflow refuses to act without its row and
-- takes everything from it. scope 'account': every position of the account; 'deployments': those of deployment_ids.
CREATE TABLE liquidations (
  id              uuid        PRIMARY KEY,
  workflow_id     text        NOT NULL UNIQUE,
  account_id      text        NOT NULL,
  trading_day     date        NOT NULL,
  calendar        text        NOT NULL,
  trigger         text        NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  requested_by    text        NOT NULL,
  reason          text        NOT NULL,
  scope           text        NOT NULL CHECK (scope IN ('account', 'deployments')),
  deployment_ids  uuid[]      NOT NULL DEFAULT '{}',
  brokers         text[]      NOT NULL,
  margin_minutes  integer     NOT NULL,
  -- data time (the exchange's clock; a replay or rehearsal maps workflow time onto it through clock)
  close_at        timestamptz NOT NULL,
  reduce_only_at  timestamptz NOT NULL,
  flat_by         timestamptz NOT NULL,
  lifts_at        timestamptz NOT NULL,
  clock           jsonb,
  status          text        NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'running', 'flat', 'not_flat')),
  -- what each step did, as the workflow recorded it: [{ step, at, detail }]
  steps           jsonb       NOT NULL DEFAULT '[]',
  -- verified flat or not: { flat, verifiedAt, left: [{ broker, symbol, qty, why }], orders, rounds }
  report          jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  lifted_at       timestamptz,
  UNIQUE (account_id, trading_day)
);
CREATE INDEX liquidations_day ON liquidations (trading_day, account_id);

-- Reduce-only from a liquidation's first step until the next session's open: the order gate reads these rows with
-- the kill switch's (only exposure-reducing orders go out) and the runtimes show 'exiting'. Lifted by the
-- liquidation workflow at the open (and by the scheduler at the open, should that workflow be gone).
CREATE TABLE eod_reduce_only (
  scope          text        NOT NULL CHECK (scope IN ('account', 'deployment')),
  scope_id       text        NOT NULL,
  trading_day    date        NOT NULL,
  liquidation_id uuid        NOT NULL REFERENCES liquidations (id),
  since          timestamptz NOT NULL DEFAULT now(),
  lifts_at       timestamptz NOT NULL,
  lifted_at      timestamptz,
  PRIMARY KEY (scope, scope_id, trading_day)
);
CREATE INDEX eod_reduce_only_active ON eod_reduce_only (scope, scope_id) WHERE lifted_at IS NULL;

-- One holder per (account, symbol): brokers net positions per symbol per account. Taken in one statement before an
-- entry (INSERT ... ON CONFLICT ... WHERE the lease lapsed or the holder is gone), released when the holder is flat.
CREATE TABLE symbol_locks (
  account_id  text        NOT NULL,
  symbol      text        NOT NULL,
  holder      uuid        NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (account_id, symbol)
);
CREATE INDEX symbol_locks_holder ON symbol_locks (holder);

-- The data time of the decision that placed an order (a bar close, a liquidation step), so a replayed or rehearsed
-- day is summarised on its own trading day; fills keep the broker's wall-clock times.
ALTER TABLE order_ledger ADD COLUMN data_ts timestamptz;
CREATE INDEX order_ledger_account_symbol ON order_ledger (account_id, symbol) WHERE state IN ('SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL');

-- Per trading day, per deployment and per account: idempotent (a recompute replaces the row).
CREATE TABLE daily_summaries (
  trading_day  date        NOT NULL,
  scope        text        NOT NULL CHECK (scope IN ('account', 'deployment')),
  scope_id     text        NOT NULL,
  account_id   text        NOT NULL,
  metrics      jsonb       NOT NULL,
  -- the day's intraday PnL curve: [[epoch ms, pnl], ...]
  equity       jsonb       NOT NULL DEFAULT '[]',
  computed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trading_day, scope, scope_id)
);
CREATE INDEX daily_summaries_account ON daily_summaries (account_id, trading_day);

-- Down Migration

DROP TABLE daily_summaries;
DROP INDEX order_ledger_account_symbol;
ALTER TABLE order_ledger DROP COLUMN data_ts;
DROP TABLE symbol_locks;
DROP TABLE eod_reduce_only;
DROP TABLE liquidations;
DROP TABLE liquidation_accounts;
