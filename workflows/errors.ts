/** ApplicationFailure types thrown by activities and named in retry policies. */
export const ErrorType = {
  InvalidInput: 'InvalidInput',
  NoBars: 'NoBars',
  JobNotFound: 'JobNotFound',
  /** the same client order id was used for a different order: a bug, never retried */
  IntentMismatch: 'IntentMismatch',
  /** the broker may or may not have the order: retried, and the retry looks it up first */
  OrderOutcomeUnknown: 'OrderOutcomeUnknown',
  MarketDataUnavailable: 'MarketDataUnavailable',
  /** the data provider refused the request for good (unknown symbol, keys, subscription): never retried */
  MarketDataRequest: 'MarketDataRequest',
  /** the bars a stress scan pinned are no longer the bars stored (rows inserted inside its range): never retried */
  BarsChanged: 'BarsChanged',
  /** a stress scan's final step found runs missing that its batches should have stored: a bug, never retried */
  ScanIncomplete: 'ScanIncomplete',
  /** the deployment names a broker this IO worker cannot reach as configured (unknown broker, refused credentials) */
  BrokerNotConfigured: 'BrokerNotConfigured',
  /** an order that may have reached the broker is not resolved yet: looked up again later, never abandoned */
  OrderUnresolved: 'OrderUnresolved',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];
