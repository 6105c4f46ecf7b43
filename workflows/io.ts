// Every workflow the IO worker runs. Adding a workflow to the IO queue = one line here.
// The foundation's IO worker serves activities only (job bookkeeping); runtime workflows arrive with deployments.
export {};
