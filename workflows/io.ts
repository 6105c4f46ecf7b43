// Every workflow the IO worker runs. Adding a workflow to the IO queue = one line here.
export * from './approval/workflow';
export * from './deployment/workflow';
export * from './notifications/workflow';
export * from './eod/liquidation';
export * from './eod/scheduler';
export * from './market-data/workflow';
export * from './maintenance/workflow';
export * from './evaluator/workflow';
