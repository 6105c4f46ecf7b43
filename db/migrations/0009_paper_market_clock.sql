-- Up Migration

-- The paper broker's market clock (GET /v2/clock, and which trading day a price belongs to). NULL clock_at:
-- the wall clock. Otherwise the clock reads clock_at, plus the wall time elapsed since clock_set_at when
-- clock_running. Set by POST /admin/clock, or moved forward by prices sent with ?asOf= (replays run on data
-- time). Kept here, not in the process, so a restarted broker and every process of the account agree.
ALTER TABLE paper_accounts
  ADD COLUMN clock_at      timestamptz,
  ADD COLUMN clock_set_at  timestamptz,
  ADD COLUMN clock_running boolean NOT NULL DEFAULT false;

-- Alpaca positions report lastday_price (the previous trading day's close) and change_today. A price update
-- for a later trading day than the stored one (session_date) keeps the stored price as lastday_price.
ALTER TABLE paper_prices
  ADD COLUMN lastday_price numeric CHECK (lastday_price > 0),
  ADD COLUMN session_date  date;

-- Down Migration

ALTER TABLE paper_prices DROP COLUMN session_date, DROP COLUMN lastday_price;
ALTER TABLE paper_accounts DROP COLUMN clock_running, DROP COLUMN clock_set_at, DROP COLUMN clock_at;
