import { allocateBars, appendBar, type BarColumns } from '../../domain/bars';
import { decideCycle, parseDeploymentSpec, type DeploymentSpec } from '../../domain/deployment';
import { decideScannerSymbol, EntryPicker, rankCandidates, scannerPhase, screenSymbol, type Candidate } from '../../domain/deployment/scanner';
import { MAX_SCANNER_UNIVERSE, ScannerSpecSchema } from '../../domain/deployment/scanner-spec';
import { DeploymentSpecSchema } from '../../domain/deployment/spec';

const MIN = 60_000;
const T0 = Date.UTC(2024, 2, 9, 0, 0);

/** 1m bars from closes (open = previous close), volume per bar. */
function bars(closes: number[], volume: number | number[] = 1000): BarColumns {
  const b = allocateBars(closes.length);
  closes.forEach((c, i) => {
    const o = i > 0 ? closes[i - 1] : c;
    appendBar(b, { ts: T0 + i * MIN, open: o, high: Math.max(o, c), low: Math.min(o, c), close: c, volume: Array.isArray(volume) ? volume[i]! : volume });
  });
  return b;
}

// sma-cross { period: 3 }: the close crosses over its SMA(3) at the last bar (index 4)
const UP_CROSS = [10, 10, 10, 9, 12];
const NO_CROSS = [10, 10, 10, 9, 9.5];
const universe = Array.from({ length: 30 }, (_, i) => `S${String(i).padStart(3, '0')}`);

const scannerSpec = (over: Record<string, unknown> = {}): DeploymentSpec =>
  parseDeploymentSpec({
    strategy: 'sma-cross', params: { period: 3 }, symbols: universe, timeframe: '1m', accountId: 'acc-1', calendar: '24x7', eod: { marginMinutes: 5 },
    scanner: { maxPositions: 2, minVolume: 500, minPrice: 5, maxPrice: 100 }, exits: { takeProfitPct: 0.1, stopLossPct: 0.05 }, ...over,
  });

const ctx = (spec: DeploymentSpec, lastOpen = T0 + 4 * MIN) => ({ scanner: spec.scanner!, strategy: spec.strategy, params: spec.params, barOpenMs: lastOpen });

describe('scanner spec', () => {
  test('defaults, and a universe of up to 200 symbols only for a scanner', () => {
    expect(ScannerSpecSchema.parse({})).toEqual({ maxPositions: 1, minVolume: 0, minPrice: 0, rankBy: 'volume' });
    const big = Array.from({ length: MAX_SCANNER_UNIVERSE }, (_, i) => `U${i}`);
    expect(scannerSpec({ symbols: big }).symbols).toHaveLength(200);
    const plain = DeploymentSpecSchema.safeParse({ strategy: 'sma-cross', symbols: big.slice(0, 21), timeframe: '5m', accountId: 'a' });
    expect(plain.success).toBe(false);
    expect(plain.error!.issues[0]).toMatchObject({ path: ['symbols'], message: "at most 20 symbols (a scanner's universe: 200)" });
    const tooBig = DeploymentSpecSchema.safeParse({ strategy: 'sma-cross', symbols: [...big, 'X'], timeframe: '5m', accountId: 'a', eod: {}, scanner: {} });
    expect(tooBig.error!.issues[0]!.path).toEqual(['symbols']);
  });

  test('a scanner needs an eod policy, long only, no approvals; bounds are checked with clear messages', () => {
    const issues = (over: Record<string, unknown>) => DeploymentSpecSchema.safeParse({ strategy: 'sma-cross', symbols: ['A'], timeframe: '5m', accountId: 'a', scanner: {}, ...over }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({})).toEqual(['eod: a scanner needs an eod policy (it is flat by the close), e.g. { "marginMinutes": 5 }']);
    expect(issues({ eod: {}, allowShort: true, approvalPolicy: { mode: 'always' } })).toEqual(['allowShort: a scanner enters long only', 'approvalPolicy: a scanner takes its entries without approvals (mode none)']);
    expect(issues({ eod: {}, scanner: { maxPositions: 21 } })).toEqual(['scanner.maxPositions: maxPositions must be at most 20']);
    expect(issues({ eod: {}, scanner: { minPrice: 10, maxPrice: 5 } })).toEqual(['scanner.maxPrice: maxPrice must be >= minPrice']);
    expect(issues({ eod: {}, scanner: { rankBy: 'luck' } })).toEqual(['scanner.rankBy: rankBy must be one of: volume, dollar-volume']);
    expect(issues({ eod: {}, scanner: { minVolume: 1, extra: 1 } })?.[0]).toMatch(/^scanner: /);
    expect(issues({ eod: {} })).toBeUndefined();
  });
});

describe('screen and rank', () => {
  const spec = scannerSpec();
  test('a candidate passes the fresh bar, volume, price range and the strategy entry signal', () => {
    expect(screenSymbol('A', bars(UP_CROSS), ctx(spec))).toEqual({ ok: true, candidate: { symbol: 'A', close: 12, volume: 1000, score: 1000 } });
    expect(screenSymbol('A', bars(NO_CROSS), ctx(spec))).toEqual({ ok: false, reason: 'no-entry-signal' });
    expect(screenSymbol('A', bars(UP_CROSS, 499), ctx(spec))).toEqual({ ok: false, reason: 'volume' });
    expect(screenSymbol('A', bars(UP_CROSS.map((c) => c / 10)), ctx(spec))).toEqual({ ok: false, reason: 'price' });
    expect(screenSymbol('A', bars(UP_CROSS.map((c) => c * 10)), ctx(spec))).toEqual({ ok: false, reason: 'price' });
    expect(screenSymbol('A', bars(UP_CROSS), ctx(spec, T0 + 5 * MIN))).toEqual({ ok: false, reason: 'stale-data' });
    expect(screenSymbol('A', bars([]), ctx(spec))).toEqual({ ok: false, reason: 'no-bars' });
    expect(screenSymbol('A', bars([10, 12]), ctx(spec, T0 + MIN))).toEqual({ ok: false, reason: 'warmup' });
    const dollar = scannerSpec({ scanner: { maxPositions: 2, rankBy: 'dollar-volume' } });
    expect(screenSymbol('A', bars(UP_CROSS), ctx(dollar))).toMatchObject({ ok: true, candidate: { score: 12_000 } });
  });

  test('ranked by score, highest first; ties by symbol, whatever the universe order', () => {
    const c = (symbol: string, score: number): Candidate => ({ symbol, close: 10, volume: score, score });
    const ranked = rankCandidates([c('B', 5), c('C', 9), c('A', 5), c('D', 1)]);
    expect(ranked.map((x) => x.symbol)).toEqual(['C', 'A', 'B', 'D']);
    expect(rankCandidates([c('A', 5), c('D', 1), c('C', 9), c('B', 5)])).toEqual(ranked);
  });
});

describe('EntryPicker: at most K, a lost lock moves on to the next candidate', () => {
  /** The workflow's loop in miniature: each candidate in rank order, lock outcomes from `locks`. */
  function pick(ranked: string[], held: string[], k: number, locks: Record<string, 'lost' | 'refused'>) {
    const p = new EntryPicker(ranked, held, k);
    const tried: string[] = [];
    for (const s of [...held, ...p.shortlist()]) {
      if (!p.wants(s)) continue;
      tried.push(s);
      p.settle(s, locks[s] ?? 'taken');
    }
    return { tried, taken: p.taken, held: p.heldCount(), lost: p.lost };
  }

  test('takes the best K', () => {
    expect(pick(['A', 'B', 'C', 'D'], [], 2, {})).toEqual({ tried: ['A', 'B'], taken: 2, held: 2, lost: [] });
  });
  test('a lock held by another deployment: the next candidate gets the slot', () => {
    expect(pick(['A', 'B', 'C', 'D'], [], 2, { A: 'lost' })).toEqual({ tried: ['A', 'B', 'C'], taken: 2, held: 2, lost: ['A'] });
    expect(pick(['A', 'B', 'C', 'D'], [], 2, { A: 'lost', B: 'refused', C: 'lost' })).toEqual({ tried: ['A', 'B', 'C', 'D'], taken: 1, held: 1, lost: ['A', 'C'] });
  });
  test('held positions count against K and are never entered again; full: no candidate at all', () => {
    expect(pick(['A', 'B', 'C'], ['B'], 2, {})).toEqual({ tried: ['A'], taken: 1, held: 2, lost: [] });
    const full = new EntryPicker(['A', 'B'], ['X', 'Y'], 2);
    expect(full.shortlist()).toEqual([]);
    expect(full.wants('A')).toBe(false);
  });
  test('the shortlist is the open slots plus the spare candidates for lost locks', () => {
    const ranked = Array.from({ length: 20 }, (_, i) => `C${i}`);
    expect(new EntryPicker(ranked, ['C0'], 3).shortlist()).toEqual(['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7']);
    expect(new EntryPicker(ranked, [], 1).shortlist(0)).toEqual(['C0']);
    expect(new EntryPicker(ranked, [], 1).wants('ZZZ')).toBe(false); // not a candidate
  });
});

describe('phase', () => {
  test('idle, scanning, holding, exiting', () => {
    expect(scannerPhase({ held: 0, exiting: false, entering: false })).toBe('idle');
    expect(scannerPhase({ held: 0, exiting: false, entering: true })).toBe('scanning');
    expect(scannerPhase({ held: 2, exiting: false, entering: true })).toBe('holding');
    expect(scannerPhase({ held: 2, exiting: false, entering: false })).toBe('holding'); // paused while holding
    expect(scannerPhase({ held: 1, exiting: true, entering: false })).toBe('exiting');
    expect(scannerPhase({ held: 0, exiting: true, entering: false })).toBe('idle');
  });
});

describe('decideScannerSymbol', () => {
  const spec = scannerSpec({ quantity: 7 });
  const base = (b: BarColumns, positionQty: number, over: Record<string, unknown> = {}) => ({
    bars: b, nowMs: b.ts[b.length - 1] + MIN + 2000, timeframeMs: MIN, spec, symbol: 'A', positionQty, pendingOrder: false, ...over,
  });

  test('a wanted candidate is an entry of spec.quantity at the close; an unwanted one a no-slot skip', () => {
    expect(decideScannerSymbol(base(bars(NO_CROSS), 0), { exiting: false, entry: true })).toMatchObject({ action: 'order', intent: { symbol: 'A', side: 'buy', qty: 7, price: 9.5, reason: 'scanner' } });
    expect(decideScannerSymbol(base(bars(UP_CROSS), 0), { exiting: false, entry: false })).toMatchObject({ action: 'skip', reason: 'no-slot' });
    expect(decideScannerSymbol(base(bars(UP_CROSS), 0), { exiting: true, entry: false })).toMatchObject({ action: 'skip', reason: 'no-slot', detail: 'end of day: no new entries' });
  });

  test('while holding only the exits close it, never the strategy (a down-cross is a hold); at the end of day it closes whole', () => {
    const down = [12, 12, 12, 13, 11.9]; // the close crosses under its SMA(3)
    expect(decideCycle(base(bars(down), 7, { entryPrice: 12 }))).toMatchObject({ action: 'order', intent: { reason: 'signal', side: 'sell' } });
    expect(decideScannerSymbol(base(bars(down), 7, { entryPrice: 12 }), { exiting: false, entry: false })).toMatchObject({ action: 'hold' });
    // the stop-loss at 5 % below 12 = 11.4: a bar down to 11 hits it (the engine's intrabar rule)
    const hit = decideScannerSymbol(base(bars([12, 12, 12, 12, 11]), 7, { entryPrice: 12 }), { exiting: false, entry: false });
    expect(hit).toMatchObject({ action: 'order', intent: { side: 'sell', qty: 7, reason: 'stop-loss' } });
    expect(decideScannerSymbol(base(bars(down), 7, { entryPrice: 12 }), { exiting: true, entry: false })).toMatchObject({ action: 'order', intent: { side: 'sell', qty: 7, reason: 'eod', price: 11.9 } });
    // an open order first: one order at a time per symbol
    expect(decideScannerSymbol(base(bars(down), 7, { entryPrice: 12, pendingOrder: true }), { exiting: true, entry: false })).toMatchObject({ action: 'skip', reason: 'pending-order' });
  });
});
