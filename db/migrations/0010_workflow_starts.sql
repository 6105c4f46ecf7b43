-- Up Migration

-- Every workflow a user could start by hand (a deployment's runtime, a backtest, a trade approval) checks at its start
-- that the API recorded it: the row it stands for exists, names its workflow id and is in a startable state. It then
-- claims the workflow id here for its run chain (the first run's id, which continue-as-new keeps). A second chain
-- under the same id, started by hand after the first closed or in its place, finds the claim taken and ends at once.
CREATE TABLE workflow_starts (
  workflow_id  text        PRIMARY KEY,
  first_run_id text        NOT NULL,
  kind         text        NOT NULL,
  -- the row it stands for (deployment, backtest job or approval id)
  subject      text        NOT NULL,
  claimed_at   timestamptz NOT NULL DEFAULT now()
);

-- The replay clock a deployment was created with (null: it trades live): the runtime reads it here, not from its input.
ALTER TABLE deployments ADD COLUMN replay_clock jsonb;

-- What the approval workflow's re-check needs besides the intent, as the deployment runtime had it when it asked
-- (breaker, equity peak, day-start PnL, the intent's reason): read from here, never from the workflow's input.
ALTER TABLE approvals ADD COLUMN risk_context jsonb;

-- Down Migration
ALTER TABLE approvals DROP COLUMN risk_context;
ALTER TABLE deployments DROP COLUMN replay_clock;
DROP TABLE workflow_starts;
