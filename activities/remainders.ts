import { ApplicationFailure, Context } from '@temporalio/activity';
import { BrokerRequestError, type BrokerPort, type OrderStatus } from '../brokers/port';
import { getLedgerOrder } from '../db/sql/order-ledger';
import type { ConnectionPool } from '../db/sql/queryable';
import type { LedgerState } from '../domain/orders';
import { ErrorType } from '../workflows/errors';
import { recordBrokerOrder } from './orders';

export interface RemainderDeps {
  db: ConnectionPool;
  brokers: Record<string, BrokerPort>;
}

const WORKING: readonly OrderStatus[] = ['new', 'accepted', 'partially_filled'];

/**
 * The broker side of cancel-and-replace (domain/deployment/remainders.ts): cancel a partially filled order's
 * remainder and wait for the broker to confirm it, so the replacement is sized from the broker's final filled
 * quantity and the two can never both fill. Idempotent: an order already ended (filled meanwhile, or cancelled by
 * an earlier attempt) is only looked up and recorded.
 */
export function createRemainderActivities({ db, brokers }: RemainderDeps) {
  return {
    async cancelRemainder(args: { clientOrderId: string }): Promise<{ state: LedgerState; filledQty: number }> {
      const signal = Context.current().cancellationSignal;
      const mine = await getLedgerOrder(db, args.clientOrderId);
      if (!mine) throw ApplicationFailure.nonRetryable(`order ${args.clientOrderId} has no ledger row`, ErrorType.InvalidInput);
      const broker = brokers[mine.broker];
      if (!broker) throw ApplicationFailure.nonRetryable(`unknown broker "${mine.broker}": this IO worker has no such broker configured`, ErrorType.BrokerNotConfigured);
      const before = await broker.getOrderByClientId(args.clientOrderId, signal);
      if (!before) throw ApplicationFailure.retryable(`order ${args.clientOrderId} is not at the broker (yet): looking again`, ErrorType.OrderUnresolved);
      if (WORKING.includes(before.status)) {
        await broker.cancelOrder(before.id, signal).catch((err: unknown) => {
          if (err instanceof BrokerRequestError && err.status === 422) return; // ended meanwhile: the lookup below says how
          throw err;
        });
      }
      const after = (await broker.getOrderByClientId(args.clientOrderId, signal)) ?? before;
      if (WORKING.includes(after.status)) throw ApplicationFailure.retryable(`order ${args.clientOrderId}: the cancel is not confirmed yet (${after.status})`, ErrorType.OrderUnresolved);
      await recordBrokerOrder(db, args.clientOrderId, after);
      const row = (await getLedgerOrder(db, args.clientOrderId))!;
      return { state: row.state, filledQty: row.filledQty };
    },
  };
}
