-- Up Migration

-- The run of each deployment's workflow that is current, recorded by the run itself at its start check (every run of
-- the chain: continue-as-new starts a new one). The batch evaluator's wakes name it: a signal with a run id is found
-- in the Temporal server's cache, while one without makes the server look up the current run in its store first
-- (GetCurrentExecution, one persistence read per wake, measured on the dev server's single store connection).
CREATE TABLE deployment_runs (
  deployment_id uuid        PRIMARY KEY REFERENCES deployments (id) ON DELETE CASCADE,
  run_id        text        NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE deployment_runs;
