import { closeRoute, leftOpen, planCloses, remainderBackoffMs } from '../../domain/eod/plan';
import { eodWindow, EodPolicySchema, exchangeTime, liquidationWorkflowId, manualEodWindow } from '../../domain/eod/policy';
import { summarizeDay, sumCurves } from '../../domain/eod/summary';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('eodWindow on the NYSE calendar', () => {
  test('a normal day: reduce-only at 15:55 ET, flat by 15:59 ET, lifted at the next open', () => {
    const w = eodWindow('XNYS', '2026-12-28', 5)!;
    expect([w.earlyClose, iso(w.reduceOnlyAtMs), iso(w.flatByMs), iso(w.closeMs), iso(w.liftsAtMs)]).toEqual([
      false, '2026-12-28T20:55:00.000Z', '2026-12-28T20:59:00.000Z', '2026-12-28T21:00:00.000Z', '2026-12-29T14:30:00.000Z',
    ]);
  });
  test('early closes (the day after Thanksgiving, Christmas Eve) move every time with the 13:00 ET close', () => {
    const nov = eodWindow('XNYS', '2026-11-27', 5)!;
    expect([nov.earlyClose, iso(nov.reduceOnlyAtMs), iso(nov.flatByMs), iso(nov.liftsAtMs)]).toEqual([true, '2026-11-27T17:55:00.000Z', '2026-11-27T17:59:00.000Z', '2026-11-30T14:30:00.000Z']);
    const eve = eodWindow('XNYS', '2026-12-24', 15)!;
    expect([iso(eve.reduceOnlyAtMs), iso(eve.liftsAtMs)]).toEqual(['2026-12-24T17:45:00.000Z', '2026-12-28T14:30:00.000Z']);
  });
  test('holidays and weekends have no liquidation', () => {
    expect(eodWindow('XNYS', '2026-12-25', 5)).toBeNull();
    expect(eodWindow('XNYS', '2026-11-26', 5)).toBeNull(); // Thanksgiving
    expect(eodWindow('XNYS', '2026-12-26', 5)).toBeNull(); // Saturday
  });
  test('a manual one: reduce-only now, flat within margin - 1 minutes, for today only', () => {
    const now = Date.parse('2026-12-04T15:00:00-05:00');
    const w = manualEodWindow('XNYS', now, 5)!;
    expect([w.date, iso(w.reduceOnlyAtMs), iso(w.flatByMs), iso(w.liftsAtMs)]).toEqual(['2026-12-04', '2026-12-04T20:00:00.000Z', '2026-12-04T20:04:00.000Z', '2026-12-07T14:30:00.000Z']);
    expect(manualEodWindow('XNYS', Date.parse('2026-12-25T12:00:00-05:00'), 5)).toBeNull();
  });
  test('the policy, ids and times as the UI shows them', () => {
    expect(EodPolicySchema.parse({})).toEqual({ marginMinutes: 5 });
    expect(EodPolicySchema.safeParse({ marginMinutes: 1 }).error?.issues[0]?.message).toMatch(/at least 2/);
    expect(EodPolicySchema.safeParse({ marginMinutes: 5, x: 1 }).success).toBe(false);
    expect(liquidationWorkflowId('acct-1', '2026-12-24')).toBe('eod-acct-1-2026-12-24');
    expect(exchangeTime('XNYS', Date.parse('2026-07-01T19:55:00Z'))).toBe('2026-07-01 15:55'); // EDT
  });
});

describe('planCloses and leftOpen', () => {
  const owner = 'acct-owner';
  test('account scope: each deployment closes its own side, largest first; what nobody holds goes to the account', () => {
    const targets = planCloses({
      brokerPositions: [{ broker: 'paper', symbol: 'X', qty: 12 }, { broker: 'paper', symbol: 'Y', qty: -4 }],
      owners: [
        { broker: 'paper', symbol: 'X', deploymentId: 'd1', qty: 3 },
        { broker: 'paper', symbol: 'X', deploymentId: 'd2', qty: 7 },
        { broker: 'paper', symbol: 'Y', deploymentId: 'd1', qty: -4 },
      ],
      pending: [],
      scope: { kind: 'account' },
      accountOwnerId: owner,
    });
    expect(targets).toEqual([
      { broker: 'paper', symbol: 'X', deploymentId: 'd2', side: 'sell', qty: 7, unowned: false },
      { broker: 'paper', symbol: 'X', deploymentId: 'd1', side: 'sell', qty: 3, unowned: false },
      { broker: 'paper', symbol: 'X', deploymentId: owner, side: 'sell', qty: 2, unowned: true },
      { broker: 'paper', symbol: 'Y', deploymentId: 'd1', side: 'buy', qty: 4, unowned: false },
    ]);
  });
  test('our open closes count: only the remainder of a partial fill goes out again; the broker wins over the ledger', () => {
    const targets = planCloses({
      brokerPositions: [{ broker: 'paper', symbol: 'X', qty: 6 }],
      owners: [{ broker: 'paper', symbol: 'X', deploymentId: 'd1', qty: 10 }],
      pending: [{ broker: 'paper', symbol: 'X', deploymentId: 'd1', qty: -2 }], // 2 of a close still open
      scope: { kind: 'deployments', deploymentIds: ['d1'] },
      accountOwnerId: owner,
    });
    expect(targets).toEqual([{ broker: 'paper', symbol: 'X', deploymentId: 'd1', side: 'sell', qty: 4, unowned: false }]);
  });
  test('deployments scope: others are left alone, and flat means flat less what the others hold', () => {
    const input = {
      brokerPositions: [{ broker: 'paper', symbol: 'X', qty: 5 }],
      owners: [{ broker: 'paper', symbol: 'X', deploymentId: 'other', qty: 5 }],
      scope: { kind: 'deployments' as const, deploymentIds: ['d1'] },
    };
    expect(planCloses({ ...input, pending: [], accountOwnerId: owner })).toEqual([]);
    expect(leftOpen({ ...input, scopeSymbols: [{ broker: 'paper', symbol: 'X', qty: 0 }] })).toEqual([]);
    expect(leftOpen({ ...input, brokerPositions: [{ broker: 'paper', symbol: 'X', qty: 7 }], scopeSymbols: [{ broker: 'paper', symbol: 'X', qty: 0 }] })).toEqual([{ broker: 'paper', symbol: 'X', qty: 2 }]);
  });
  test('backoff 1, 2, 4, 8, 8 s; the close-position call after 3 failures on brokers that tag it', () => {
    expect([0, 1, 2, 3, 4, 5].map(remainderBackoffMs)).toEqual([0, 1000, 2000, 4000, 8000, 8000]);
    expect([closeRoute(2, true), closeRoute(3, true), closeRoute(5, false)]).toEqual(['order', 'close_position', 'order']);
  });
});

describe('summarizeDay', () => {
  const day = { dayStartMs: 1_000, dayEndMs: 2_000 };
  test('realized, unrealized, round trips, win rate, profit factor, drawdown and exposure of one day', () => {
    const s = summarizeDay({
      ...day,
      fills: [
        { symbol: 'X', side: 'buy', qty: 10, price: 100, atMs: 500 }, // held overnight
        { symbol: 'X', side: 'sell', qty: 10, price: 104, atMs: 1_100 }, // +40, a win
        { symbol: 'Y', side: 'buy', qty: 5, price: 20, atMs: 1_200 },
        { symbol: 'Y', side: 'sell', qty: 5, price: 18, atMs: 1_500 }, // -10, a loss
        { symbol: 'Z', side: 'buy', qty: 2, price: 50, atMs: 1_600 }, // held at the close
      ],
      openPrices: { X: 102 },
      closePrices: { Z: 55 },
      cyclePnl: [[1_300, 45]],
    });
    expect(s.metrics).toMatchObject({ realizedPnl: 30, unrealizedPnl: 10, trades: 2, wins: 1, losses: 1, winRate: 0.5, grossProfit: 40, grossLoss: 10, profitFactor: 4, fills: 4, fees: 0, feesReported: false, positionsAtClose: { Z: 2 } });
    // day PnL marked from the open's 102: X +20, Y -10, Z +10
    expect(s.metrics.dayPnl).toBe(20);
    expect(s.metrics.exposure.timeInMarket).toBeCloseTo(0.1 + 0.3 + 0.4, 9); // 1000-1100, 1200-1500, 1600-2000
    // the curve: 0 at the open, 45 - 20 = 25 at the cycle, 20 at the close: drawdown 5 from the peak of 25
    expect(s.equity).toEqual([[1_000, 0], [1_300, 25], [2_000, 20]]);
    expect(s.metrics.maxDrawdown).toBe(5);
  });
  test('a day without trades, and curves summed per account', () => {
    expect(summarizeDay({ ...day, fills: [], openPrices: {}, closePrices: {} }).metrics).toMatchObject({ trades: 0, winRate: null, profitFactor: null, dayPnl: 0 });
    expect(sumCurves([[[1, 1], [3, 2]], [[2, 10]]])).toEqual([[1, 1], [2, 11], [3, 12]]);
  });
});
