-- Up Migration

-- One row per market-data feed (provider x timeframe), written by the platform at start-up from its settings. The
-- feed workflow runs only for a row it finds and takes its settings from it; it publishes how far it got (the
-- watermark: the last bar close whose bars are stored and cached), which deployment cycles wait for.
CREATE TABLE market_data_feeds (
  provider     text        NOT NULL,
  timeframe    text        NOT NULL,
  calendar     text        NOT NULL,
  settle_ms    integer     NOT NULL CHECK (settle_ms >= 0),
  -- a replay feed's clock { dataStartMs, wallStartMs, speed }; null for live providers (the wall clock)
  clock        jsonb,
  -- what the clock was started for (the replay settings): other settings start a new clock
  clock_key    text,
  watermark    timestamptz,
  last_refresh jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, timeframe)
);

-- Quality per series and trading day (the exchange's local date), upserted by every refresh and backfill.
CREATE TABLE market_data_quality (
  provider      text        NOT NULL,
  timeframe     text        NOT NULL,
  symbol        text        NOT NULL,
  day           date        NOT NULL,
  -- calendar bars of the day closed so far, and of those the ones stored (as of the last refresh)
  expected      integer     NOT NULL DEFAULT 0,
  received      integer     NOT NULL DEFAULT 0,
  invalid       integer     NOT NULL DEFAULT 0,
  gaps          integer     NOT NULL DEFAULT 0,
  late          integer     NOT NULL DEFAULT 0,
  max_delay_ms  bigint      NOT NULL DEFAULT 0,
  refreshes     integer     NOT NULL DEFAULT 0,
  level         text        NOT NULL DEFAULT 'OK' CHECK (level IN ('OK', 'WARNING', 'ERROR')),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (day, provider, timeframe, symbol)
);

-- What happened to a series: a gap found, a backfill done, invalid bars skipped, a late or missing bar, a level.
CREATE TABLE market_data_events (
  id         bigserial   PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  provider   text        NOT NULL,
  timeframe  text        NOT NULL,
  symbol     text        NOT NULL,
  kind       text        NOT NULL CHECK (kind IN ('gap_found', 'backfill_done', 'invalid_bars', 'late_bar', 'missing_bar', 'level')),
  from_ts    timestamptz,
  to_ts      timestamptz,
  bars       integer,
  detail     jsonb       NOT NULL DEFAULT '{}',
  -- an activity retry writes an event once
  dedupe_key text        NOT NULL UNIQUE
);
CREATE INDEX market_data_events_series ON market_data_events (symbol, timeframe, at DESC);
CREATE INDEX market_data_events_at ON market_data_events (at DESC);

-- Backfill jobs: recorded by the API (or by a feed that found a gap too long to fill inline), one workflow each.
CREATE TABLE market_data_backfills (
  id            uuid        PRIMARY KEY,
  workflow_id   text        NOT NULL UNIQUE,
  provider      text        NOT NULL,
  symbol        text        NOT NULL,
  timeframe     text        NOT NULL,
  from_ts       timestamptz NOT NULL,
  to_ts         timestamptz NOT NULL CHECK (to_ts >= from_ts),
  -- incremental: only the calendar bars missing from the range; full: the whole range again, corrected bars replaced
  mode          text        NOT NULL CHECK (mode IN ('incremental', 'full')),
  status        text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  requested_by  text        NOT NULL,
  -- counts as the workflow reported them (the workflow's progress query has them live)
  expected      integer,
  fetched       integer     NOT NULL DEFAULT 0,
  stored        integer     NOT NULL DEFAULT 0,
  replaced      integer     NOT NULL DEFAULT 0,
  invalid       integer     NOT NULL DEFAULT 0,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz
);
CREATE INDEX market_data_backfills_created ON market_data_backfills (created_at DESC);

-- The periodic quality report, one per trading day (its Schedule's workflow writes it; a rerun replaces it).
CREATE TABLE market_data_reports (
  day        date        PRIMARY KEY,
  report     jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE market_data_reports;
DROP TABLE market_data_backfills;
DROP TABLE market_data_events;
DROP TABLE market_data_quality;
DROP TABLE market_data_feeds;
