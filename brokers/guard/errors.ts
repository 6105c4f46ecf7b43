import { BrokerUnavailableError } from '../port';

export type GuardRefusalReason = 'rate_limited' | 'circuit_open' | 'circuit_half_open';

/**
 * The guard refused a broker call before anything was sent: nothing reached the broker, so no order can be in
 * doubt because of it. Retryable (it is a BrokerUnavailableError); `retryAfterMs` says when a retry may pass.
 */
export class BrokerGuardRefusal extends BrokerUnavailableError {
  /** always true: the call never left this process */
  readonly notSent = true;
  readonly reason: GuardRefusalReason;
  /** the guard key (broker:account) */
  readonly guard: string;

  constructor(guard: string, reason: GuardRefusalReason, retryAfterMs: number, detail = '') {
    super(`${guard}: ${DESCRIPTION[reason]}${detail ? ` (${detail})` : ''}; not sent, retry in ${retryAfterMs} ms`, { retryAfterMs });
    this.name = 'BrokerGuardRefusal';
    this.reason = reason;
    this.guard = guard;
  }
}

const DESCRIPTION: Record<GuardRefusalReason, string> = {
  rate_limited: 'broker rate limit reached',
  circuit_open: 'broker circuit open',
  circuit_half_open: 'broker circuit half-open, a probe call is in flight',
};
