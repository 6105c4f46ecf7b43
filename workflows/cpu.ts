// Every workflow the CPU worker runs. Adding a workflow to the CPU queue = one line here.
export * from './backtest/workflow';
export * from './stress-scan/workflow';
