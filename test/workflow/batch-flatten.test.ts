import { flattenBeforeAct } from '../helpers/batch-flatten';
import { useTradingEnvironment } from '../helpers/trading-env';

/**
 * A flatten on a batch-evaluated deployment between its evaluator's decision (an entry) and the wake, done before the
 * wake: woken afterwards, the deployment does not place the entry (the action was still pending in Postgres).
 * Time-skipping environment, the real IO activities, Postgres and the paper broker (test/helpers/batch-flatten.ts).
 */
const ctx = useTradingEnvironment({ accountPrefix: 'batchflat' });
const SETTLE = 1_016; // this file's evaluation group

test('an entry decided before a flatten and woken after it is not placed', () => flattenBeforeAct(ctx, SETTLE, 'after the flatten'));
