-- Up Migration

-- One row per stress scan. The API checks the request, pins the bars it will run on (first and last bar, their
-- count: bars are only ever inserted, so the three fix the data) and stores the plan (stages, batch sizes) before
-- the workflow starts; every batch of every worker reads the same spec, bars and plan from here.
CREATE TABLE stress_scan_jobs (
  id             uuid        PRIMARY KEY,
  workflow_id    text        NOT NULL UNIQUE,
  status         text        NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  type           text        NOT NULL CHECK (type IN ('param_scan', 'optimization', 'monte_carlo', 'black_swan')),
  symbol         text        NOT NULL,
  timeframe      text        NOT NULL,
  -- the requested window (inclusive), as given
  from_ts        timestamptz,
  to_ts          timestamptz,
  first_bar_ts   timestamptz NOT NULL,
  last_bar_ts    timestamptz NOT NULL,
  bars           integer     NOT NULL CHECK (bars > 0),
  spec           jsonb       NOT NULL,
  params_version text        NOT NULL,
  plan           jsonb       NOT NULL,
  -- runs stored (cells, train runs, paths, shocks, then the final step's), counted as rows are inserted
  runs_total     integer     NOT NULL,
  runs_done      integer     NOT NULL DEFAULT 0,
  -- the finished document without its cells (assumptions, bars, folds, walk-forward, Monte Carlo, black swan); json,
  -- not jsonb, so it is served as it was written, keys in their order
  result         json,
  error          text,
  requested_by   text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  started_at     timestamptz,
  finished_at    timestamptz
);
CREATE INDEX stress_scan_jobs_created_at ON stress_scan_jobs (created_at DESC);

-- One row per cell, written once (ON CONFLICT DO NOTHING) by the batch that ran it; rank is set when the scan
-- finishes. Non-finite metrics are stored as the strings "Infinity", "-Infinity", "NaN" (castable to float8); json
-- keeps params and metrics in the order the engine wrote them.
CREATE TABLE stress_scan_cells (
  job_id       uuid             NOT NULL REFERENCES stress_scan_jobs (id) ON DELETE CASCADE,
  cell         bigint           NOT NULL,
  params       json             NOT NULL,
  final_equity double precision NOT NULL,
  cash         double precision NOT NULL,
  position     double precision NOT NULL,
  trades       integer          NOT NULL,
  metrics      json             NOT NULL,
  objective    double precision NOT NULL,
  eligible     boolean          NOT NULL,
  rank         integer,
  computed_at  timestamptz      NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (job_id, cell)
);
CREATE INDEX stress_scan_cells_rank ON stress_scan_cells (job_id, rank);

-- The other runs of a scan, written once each: walk-forward train runs (with fold, cell and score, so the best
-- cell of each fold is one query), Monte Carlo paths, black-swan shocks; result holds what the final step needs.
CREATE TABLE stress_scan_runs (
  job_id      uuid             NOT NULL REFERENCES stress_scan_jobs (id) ON DELETE CASCADE,
  stage       text             NOT NULL CHECK (stage IN ('train', 'paths', 'shocks')),
  run         integer          NOT NULL,
  fold        integer,
  cell        bigint,
  objective   double precision,
  eligible    boolean,
  result      json             NOT NULL,
  computed_at timestamptz      NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (job_id, stage, run)
);

-- Every attempt at a batch: what it found stored already and skipped, what it set out to compute, and (once it
-- finished) what it inserted. An attempt without finished_at died (a killed worker) and its work was lost; the sum
-- of `computing` over all attempts minus the scan's runs is the work done twice.
CREATE TABLE stress_scan_batches (
  id          bigserial   PRIMARY KEY,
  job_id      uuid        NOT NULL REFERENCES stress_scan_jobs (id) ON DELETE CASCADE,
  stage       text        NOT NULL,
  from_run    integer     NOT NULL,
  to_run      integer     NOT NULL,
  attempt     integer     NOT NULL,
  worker      text        NOT NULL,
  skipped     integer     NOT NULL,
  computing   integer     NOT NULL,
  -- this attempt loaded the bars from Postgres (false: its worker had them cached)
  loaded_bars boolean     NOT NULL,
  inserted    integer,
  started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz
);
CREATE INDEX stress_scan_batches_job ON stress_scan_batches (job_id);

-- Down Migration
DROP TABLE stress_scan_batches;
DROP TABLE stress_scan_runs;
DROP TABLE stress_scan_cells;
DROP TABLE stress_scan_jobs;
