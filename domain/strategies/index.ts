import type { BarColumns } from '../bars';
import type { StrategyName } from '../backtest/types';
import { createDonchianBreakout } from './donchian-breakout';
import { createRsiReversion } from './rsi-reversion';
import { createSmaCross } from './sma-cross';
import type { Strategy, StrategyFactory, StrategyOptions, StrategyParams } from './types';

export type { Strategy, StrategyFactory, StrategyOptions, StrategyParams } from './types';
export { SmaCrossStrategy } from './sma-cross';
export { RsiReversionStrategy } from './rsi-reversion';
export { DonchianBreakoutStrategy } from './donchian-breakout';

/** Every strategy by name. Factories validate and default their params (see ../backtest/settings.ts). */
export const STRATEGIES: Readonly<Record<StrategyName, StrategyFactory>> = Object.freeze({
  'sma-cross': createSmaCross,
  'rsi-reversion': createRsiReversion,
  'donchian-breakout': createDonchianBreakout,
});

export function createStrategy(
  name: StrategyName,
  bars: BarColumns,
  params: StrategyParams,
  opts: StrategyOptions = { allowShort: false },
): Strategy {
  const factory = Object.prototype.hasOwnProperty.call(STRATEGIES, name) ? STRATEGIES[name] : undefined;
  if (factory === undefined) throw new Error(`unknown strategy "${String(name)}"; expected one of: ${Object.keys(STRATEGIES).join(', ')}`);
  return factory(bars, params, opts);
}
