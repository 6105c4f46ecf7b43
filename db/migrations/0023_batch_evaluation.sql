-- Up Migration

-- Batch evaluation (spec.evaluation = 'batch'): one evaluator workflow per group of deployments that share their bar
-- closes (calendar, timeframe, settle delay, staleness, feed, replay clock) evaluates all of them at each close and
-- wakes a deployment's own workflow only when it must act. The group is recorded before its workflow starts, so a
-- hand-started evaluator for a group nobody recorded is refused.
CREATE TABLE evaluation_groups (
  key         text        PRIMARY KEY,
  workflow_id text        NOT NULL UNIQUE,
  timing      jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE deployments ADD COLUMN evaluation_group text REFERENCES evaluation_groups (key);
CREATE INDEX deployments_by_evaluation_group ON deployments (evaluation_group, status) WHERE evaluation_group IS NOT NULL;

-- The risk state a deployment's workflow carried (breaker, equity peak, day start, cooldowns, exit watches, loss
-- streak), one row per batch-evaluated deployment, written once per bar close (last_bar_close guards the retry) and
-- by a breaker reset. `cycle` numbers the deployment's cycles (its client order ids derive from it). `version` counts
-- writes: the evaluator writes a state only if nobody wrote it since it was read (a reset is never overwritten).
CREATE TABLE deployment_risk_states (
  deployment_id  uuid        PRIMARY KEY REFERENCES deployments (id) ON DELETE CASCADE,
  cycle          integer     NOT NULL DEFAULT 0,
  last_bar_close bigint      NOT NULL DEFAULT 0,
  version        integer     NOT NULL DEFAULT 0,
  state          jsonb       NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- What a bar close's evaluation asks a deployment's workflow to do (orders, approval requests, remainders, a flatten,
-- a reconciliation block), one row per deployment and close: the `act` signal carries only its id, and the workflow
-- reads it from here, so a forged or repeated signal can do nothing the evaluator did not decide, and only once.
CREATE TABLE deployment_actions (
  id             text        PRIMARY KEY,
  deployment_id  uuid        NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
  bar_close      bigint      NOT NULL,
  cycle          integer     NOT NULL,
  params_version integer     NOT NULL,
  payload        jsonb       NOT NULL,
  state          text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'expired')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  done_at        timestamptz,
  UNIQUE (deployment_id, bar_close)
);
CREATE INDEX deployment_actions_pending ON deployment_actions (deployment_id, bar_close) WHERE state = 'pending';

-- Down Migration
DROP TABLE deployment_actions;
DROP TABLE deployment_risk_states;
ALTER TABLE deployments DROP COLUMN evaluation_group;
DROP TABLE evaluation_groups;
