-- Up Migration

-- State of the built-in paper broker (brokers/paper). One row per paper account; one paper broker process
-- serves one account (PAPER_BROKER_ACCOUNT), so several brokers or test suites can share a database.
-- Every mutation locks the account row first (SELECT ... FOR UPDATE), which serialises executions.
CREATE TABLE IF NOT EXISTS paper_accounts (
  account       text        PRIMARY KEY,
  initial_cash  numeric     NOT NULL,
  cash          numeric     NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS paper_orders (
  id               uuid        PRIMARY KEY,
  seq              bigint      GENERATED ALWAYS AS IDENTITY,
  account          text        NOT NULL REFERENCES paper_accounts (account) ON DELETE CASCADE,
  client_order_id  text        NOT NULL CHECK (length(client_order_id) BETWEEN 1 AND 48),
  symbol           text        NOT NULL,
  side             text        NOT NULL CHECK (side IN ('buy', 'sell')),
  type             text        NOT NULL CHECK (type IN ('market', 'limit')),
  time_in_force    text        NOT NULL CHECK (time_in_force IN ('day', 'gtc', 'ioc')),
  qty              numeric     NOT NULL CHECK (qty > 0),
  limit_price      numeric     CHECK (limit_price > 0),
  filled_qty       numeric     NOT NULL DEFAULT 0 CHECK (filled_qty >= 0 AND filled_qty <= qty),
  filled_notional  numeric     NOT NULL DEFAULT 0,
  status           text        NOT NULL CHECK (status IN ('new', 'accepted', 'partially_filled', 'filled', 'canceled', 'expired', 'rejected')),
  slices_total     integer     NOT NULL CHECK (slices_total >= 1),
  slices_done      integer     NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  filled_at        timestamptz,
  canceled_at      timestamptz,
  expired_at       timestamptz
);
-- Alpaca semantics: a client order id is never reusable, not even after the order was canceled.
CREATE UNIQUE INDEX IF NOT EXISTS paper_orders_client_order_id ON paper_orders (account, client_order_id);
CREATE INDEX IF NOT EXISTS paper_orders_account_seq ON paper_orders (account, seq);
CREATE INDEX IF NOT EXISTS paper_orders_open ON paper_orders (account, symbol, seq) WHERE status IN ('new', 'accepted', 'partially_filled');

CREATE TABLE IF NOT EXISTS paper_fills (
  seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id            text        NOT NULL UNIQUE,
  account       text        NOT NULL REFERENCES paper_accounts (account) ON DELETE CASCADE,
  order_id      uuid        NOT NULL REFERENCES paper_orders (id) ON DELETE CASCADE,
  symbol        text        NOT NULL,
  side          text        NOT NULL CHECK (side IN ('buy', 'sell')),
  qty           numeric     NOT NULL CHECK (qty > 0),
  price         numeric     NOT NULL CHECK (price > 0),
  cum_qty       numeric     NOT NULL,
  leaves_qty    numeric     NOT NULL,
  order_status  text        NOT NULL,
  ts            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS paper_fills_account_seq ON paper_fills (account, seq);
CREATE INDEX IF NOT EXISTS paper_fills_order ON paper_fills (order_id);

-- Signed quantity: negative for a short position. Rows with quantity 0 are deleted.
CREATE TABLE IF NOT EXISTS paper_positions (
  account          text    NOT NULL REFERENCES paper_accounts (account) ON DELETE CASCADE,
  symbol           text    NOT NULL,
  qty              numeric NOT NULL,
  avg_entry_price  numeric NOT NULL,
  PRIMARY KEY (account, symbol)
);

-- The last price per symbol, set through POST /admin/prices (market-data replay).
CREATE TABLE IF NOT EXISTS paper_prices (
  account     text        NOT NULL REFERENCES paper_accounts (account) ON DELETE CASCADE,
  symbol      text        NOT NULL,
  price       numeric     NOT NULL CHECK (price > 0),
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (account, symbol)
);

-- Down Migration
DROP TABLE IF EXISTS paper_prices;
DROP TABLE IF EXISTS paper_positions;
DROP TABLE IF EXISTS paper_fills;
DROP TABLE IF EXISTS paper_orders;
DROP TABLE IF EXISTS paper_accounts;
