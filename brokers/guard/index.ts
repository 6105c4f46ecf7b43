/** The broker guard: a rate limit and circuit breaker shared by every IO worker through Redis (README.md here). */
export { BrokerGuardRefusal } from './errors';
export { CallGuard } from './call-guard';
export { guardBroker, GuardedBroker } from './guarded-broker';
export { guardKeyFor, type GuardSettingsInput } from './settings';
export { brokerGuardStatus, BrokerGuardStatusSchema, listBrokerGuardStatuses } from './status';
