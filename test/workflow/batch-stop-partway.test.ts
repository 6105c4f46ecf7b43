import { commandPartWay } from '../helpers/batch-partway';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A stop that lands while the first symbol's order of a two-symbol action is at the broker: the second symbol's entry
 * is not placed and the action ends expired, as it does when the stop lands before the action.
 * Time-skipping environment, the real IO activities, Postgres and the paper broker (test/helpers/batch-partway.ts).
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchstoppart' });
const SETTLE = 1_021; // this file's evaluation group

test('a stop during the first symbol of a two-symbol action skips the second and ends the action expired', () => commandPartWay(ctx, SETTLE, 'stop'));
