import { instrumentIoActivities } from '../../activities/metrics';
import { LIVE_BAR_MAX_AGE_MS } from '../../domain/deployment/processing-lag';
import type { PlaceOrderInput, PlaceOrderResult } from '../../activities/orders';
import type { CycleRecord } from '../../workflows/deployment/messages';
import { createRegistry, createTradingMetrics } from '../../platform/metrics';

/** The decorator over the IO activities, with prom-client's real registry: what is counted, and what is timed. */
function setup(state: PlaceOrderResult['state'], recordedAt: number) {
  const registry = createRegistry('worker-io');
  const calls: string[] = [];
  const activities = instrumentIoActivities(
    {
      async placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
        calls.push(`place ${input.clientOrderId}`);
        return { clientOrderId: input.clientOrderId, state, brokerOrderId: null };
      },
      async recordCycle(args: { record: CycleRecord }) {
        calls.push(`record ${args.record.cycle}`);
        return { at: recordedAt };
      },
      async other() {
        return 'untouched';
      },
    },
    createTradingMetrics(registry),
  );
  return { registry, activities, calls };
}
const value = async (registry: ReturnType<typeof createRegistry>, name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
const record = (barClose: number, action: CycleRecord['action'] = 'order'): { record: CycleRecord } => ({ record: { cycle: 7, barClose, symbol: 'IDX', action, clientOrderIds: [] } });

test('a rejected order counts as an order and as a reject; an accepted one only as an order', async () => {
  const rejected = setup('REJECTED', 0);
  await rejected.activities.placeOrder({ clientOrderId: 'c1', broker: 'paper' } as PlaceOrderInput);
  expect(await value(rejected.registry, 'durable_trader_orders_total')).toBe(1);
  expect(await value(rejected.registry, 'durable_trader_order_rejects_total')).toBe(1);
  const accepted = setup('ACCEPTED', 0);
  await accepted.activities.placeOrder({ clientOrderId: 'c2', broker: 'paper' } as PlaceOrderInput);
  expect(await value(accepted.registry, 'durable_trader_order_rejects_total')).toBe(0);
  expect(accepted.calls).toEqual(['place c2']);
  expect(await accepted.activities.other()).toBe('untouched');
});

test('a cycle on a live bar is timed from the bar close; one on a bar older than the limit (a replay) is only counted', async () => {
  const now = 1_800_000_000_000;
  const m = setup('ACCEPTED', now);
  await m.activities.recordCycle(record(now - 1_500, 'hold'));
  await m.activities.recordCycle(record(now - LIVE_BAR_MAX_AGE_MS - 1, 'hold'));
  const text = await m.registry.metrics();
  expect(text).toMatch(/^durable_trader_cycles_total\{action="hold",service="worker-io"\} 2$/m);
  expect(text).toMatch(/^durable_trader_bar_close_to_cycle_done_seconds_count\{service="worker-io"\} 1$/m);
  expect(text).toMatch(/^durable_trader_bar_close_to_cycle_done_seconds_sum\{service="worker-io"\} 1\.5$/m);
  expect(text).toMatch(/^durable_trader_bar_close_to_cycle_done_seconds_bucket\{le="1",service="worker-io"\} 0$/m);
  expect(text).toMatch(/^durable_trader_bar_close_to_cycle_done_seconds_bucket\{le="2",service="worker-io"\} 1$/m);
});

test("the data-quality gauge holds each series' latest level as 0/1/2; a symbol a feed no longer serves loses its series", async () => {
  const registry = createRegistry('worker-io');
  const m = createTradingMetrics(registry);
  m.qualityLevels('replay', '1m', [{ symbol: 'AAA', level: 'OK' }, { symbol: 'BBB', level: 'ERROR' }]);
  m.qualityLevels('alpaca', '1m', [{ symbol: 'AAA', level: 'WARNING' }]);
  m.qualityLevels('replay', '1m', [{ symbol: 'AAA', level: 'WARNING' }]);
  const text = await registry.metrics();
  const series = text.split('\n').filter((l) => l.startsWith('durable_trader_market_data_quality_level{')).sort();
  expect(series).toEqual([
    'durable_trader_market_data_quality_level{provider="alpaca",timeframe="1m",symbol="AAA",service="worker-io"} 1',
    'durable_trader_market_data_quality_level{provider="replay",timeframe="1m",symbol="AAA",service="worker-io"} 1',
  ]);
});
