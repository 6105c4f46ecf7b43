// Temporal's Runtime logs every worker state change at INFO; tests only want warnings and errors.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG_LEVEL as 'WARN') ?? 'WARN') });
