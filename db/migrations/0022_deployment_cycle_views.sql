-- Up Migration

-- GET /v1/deployments/:id/cycles pages a deployment's cycle rows newest bar close first, with a key (bar close,
-- cycle, symbol): the primary key orders by cycle, so without these a page past the first, or a bar-close range,
-- reads every row of the deployment. The second serves a filter by action (the rare rows, orders and rejections,
-- among many holds and skips) in the same order.
CREATE INDEX deployment_cycles_by_close ON deployment_cycles (deployment_id, bar_close, cycle_seq, symbol);
CREATE INDEX deployment_cycles_by_action ON deployment_cycles (deployment_id, action, bar_close, cycle_seq, symbol);

-- Down Migration
DROP INDEX deployment_cycles_by_action;
DROP INDEX deployment_cycles_by_close;
