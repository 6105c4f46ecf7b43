// Every workflow the IO worker runs. Adding a workflow to the IO queue = one line here.
export * from './deployment/workflow';
