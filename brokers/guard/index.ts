/** The broker guard: a rate limit and circuit breaker shared by every IO worker through Redis (README.md here). */
export { BrokerGuardRefusal, type GuardRefusalReason } from './errors';
export { errorVerdict, guardBroker, GuardedBroker, submitVerdict, type GuardBrokerOptions, type GuardLogger } from './guarded-broker';
export { ALPACA_REQUESTS_PER_MINUTE, guardKeyFor, guardParams, GuardSettingsSchema, type GuardSettings, type GuardSettingsInput } from './settings';
export { brokerGuardStatus, BrokerGuardStatusSchema, listBrokerGuardStatuses, type BrokerGuardStatus } from './status';
export { LocalGuardStore, type GuardSnapshot } from './store';
