import { commandPartWay } from '../helpers/batch-partway';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A flatten that lands while the first symbol's order of a two-symbol action is at the broker: the second symbol's
 * entry is not placed, the flatten closes the first, and the action ends expired.
 * Time-skipping environment, the real IO activities, Postgres and the paper broker (test/helpers/batch-partway.ts).
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchpart' });
const SETTLE = 1_019; // this file's evaluation group

test('a flatten during the first symbol of a two-symbol action skips the second and ends the action expired', () => commandPartWay(ctx, SETTLE, 'flatten'));
