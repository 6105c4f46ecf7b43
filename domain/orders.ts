/**
 * The order ledger's states, and the groups of them the order protocol reasons about, named once for the SQL, the
 * activities, the workflows and the API. activities/orders.ts writes a row (INTENT) before it calls the broker,
 * marks it SUBMITTING before each send, and records the answer: ACCEPTED, PARTIAL, FILLED, REJECTED or CANCELED;
 * UNKNOWN when the answer was lost, resolved by a lookup by client order id, never by a blind resubmit.
 */
export const LEDGER_STATES = ['INTENT', 'SUBMITTING', 'UNKNOWN', 'ACCEPTED', 'PARTIAL', 'FILLED', 'REJECTED', 'CANCELED'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

/** An attempt may have reached the broker, which has not confirmed it: look it up before sending anything again. */
export const MAYBE_SENT_STATES: readonly LedgerState[] = ['SUBMITTING', 'UNKNOWN'];

/**
 * No answer from the broker yet: never sent (INTENT) or maybe sent. Such an order may still go out; a stop resolves
 * it (cancelled when it never reached the broker, else looked up) and the deployment shows it as a blocker meanwhile.
 */
export const UNRESOLVED_STATES: readonly LedgerState[] = ['INTENT', ...MAYBE_SENT_STATES];

/** Not final: unresolved, or accepted by the broker and not done. Reconciled with the broker before each cycle. */
export const OPEN_STATES: readonly LedgerState[] = [...UNRESOLVED_STATES, 'ACCEPTED', 'PARTIAL'];

/** Final: a row never leaves these (a late or repeated broker answer cannot move it back). */
export const FINAL_STATES: readonly LedgerState[] = ['FILLED', 'REJECTED', 'CANCELED'];

/** The broker took the order (and may have filled some or all of it). */
export const ACCEPTED_STATES: readonly LedgerState[] = ['ACCEPTED', 'PARTIAL', 'FILLED'];

/**
 * An unresolved order no attempt of which can have reached the broker: still INTENT, or every attempt so far known
 * unsent (connection refused, the broker guard's refusal). A stop cancels it without asking the broker.
 */
export function neverSent(order: { state: LedgerState; submitAttempts: number; unsentAttempts: number }): boolean {
  return order.state === 'INTENT' || order.submitAttempts <= order.unsentAttempts;
}
