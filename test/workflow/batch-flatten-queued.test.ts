import { flattenBeforeAct } from '../helpers/batch-flatten';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A flatten on a batch-evaluated deployment between its evaluator's decision (an entry) and the wake, whose order is
 * held at the broker until the wake was sent: the action is queued in the workflow while the flatten runs, and the
 * deployment does not place it afterwards.
 * Time-skipping environment, the real IO activities, Postgres and the paper broker (test/helpers/batch-flatten.ts).
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchflatq' });
const SETTLE = 1_017; // this file's evaluation group

test('an entry decided before a flatten and woken while it runs is not placed', () => flattenBeforeAct(ctx, SETTLE, 'during the flatten'));
