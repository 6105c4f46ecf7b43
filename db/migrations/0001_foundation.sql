-- Up Migration

-- OHLCV bars; ts is the bar open time in UTC. The primary key makes imports idempotent.
CREATE TABLE bars (
  symbol     text             NOT NULL,
  timeframe  text             NOT NULL,
  ts         timestamptz      NOT NULL,
  open       double precision NOT NULL,
  high       double precision NOT NULL,
  low        double precision NOT NULL,
  close      double precision NOT NULL,
  volume     double precision NOT NULL,
  PRIMARY KEY (symbol, timeframe, ts)
);

-- One row per import, so users can see what was accepted, ignored and rejected.
CREATE TABLE bar_imports (
  id          uuid        PRIMARY KEY,
  symbol      text        NOT NULL,
  timeframe   text        NOT NULL,
  accepted    integer     NOT NULL,
  inserted    integer     NOT NULL,
  duplicates  integer     NOT NULL,
  rejected    integer     NOT NULL,
  first_ts    timestamptz,
  last_ts     timestamptz,
  imported_by text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE backtest_jobs (
  id           uuid        PRIMARY KEY,
  workflow_id  text        NOT NULL UNIQUE,
  status       text        NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  symbol       text        NOT NULL,
  timeframe    text        NOT NULL,
  from_ts      timestamptz,
  to_ts        timestamptz,
  settings     jsonb       NOT NULL,
  requested_by text        NOT NULL,
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
CREATE INDEX backtest_jobs_created_at ON backtest_jobs (created_at DESC);

-- Written once per job by the backtest activity, in one transaction with its trades.
CREATE TABLE backtest_results (
  job_id        uuid             PRIMARY KEY REFERENCES backtest_jobs (id) ON DELETE CASCADE,
  bars          integer          NOT NULL,
  final_equity  double precision NOT NULL,
  cash          double precision NOT NULL,
  position      double precision NOT NULL,
  metrics       jsonb            NOT NULL,
  assumptions   jsonb            NOT NULL,
  equity_curve  jsonb            NOT NULL,
  created_at    timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE backtest_trades (
  job_id        uuid             NOT NULL REFERENCES backtest_jobs (id) ON DELETE CASCADE,
  seq           integer          NOT NULL,
  side          text             NOT NULL CHECK (side IN ('buy', 'sell')),
  ts            timestamptz      NOT NULL,
  price         double precision NOT NULL,
  qty           double precision NOT NULL,
  fee           double precision NOT NULL,
  reason        text             NOT NULL,
  realized_pnl  double precision NOT NULL,
  PRIMARY KEY (job_id, seq)
);

-- Down Migration
DROP TABLE backtest_trades;
DROP TABLE backtest_results;
DROP TABLE backtest_jobs;
DROP TABLE bar_imports;
DROP TABLE bars;
