import { openLedgerOrders } from '../db/sql/order-ledger';
import { positionsFromFills } from '../db/sql/fills';
import { setDeploymentPhase } from '../db/sql/deployments';
import type { Queryable } from '../db/sql/queryable';
import type { StrategyName } from '../domain/backtest/types';
import { allocateBars, appendBar } from '../domain/bars';
import { rankCandidates, screenSymbol, type Candidate, type Screened } from '../domain/deployment/scanner';
import type { ScannerPhase, ScannerSpec } from '../domain/deployment/scanner-spec';
import { QTY_TOLERANCE } from '../domain/risk/gate';
import type { LoadRecentBarsInput, LoadRecentBarsResult } from './market-data';

export interface ScanUniverseInput {
  deploymentId: string;
  /** the universe (spec.symbols) */
  symbols: string[];
  strategy: StrategyName;
  params: Record<string, number | boolean>;
  scanner: ScannerSpec;
  /** the bars of the bar that just closed (asOfMs is its open), as the cycle reads them */
  bars: Omit<LoadRecentBarsInput, 'symbol'>;
  /** screen the universe (false: only the symbols held, e.g. at the end of day) */
  screen: boolean;
  /** ranked candidates returned at most (the cycle needs open slots + spare) */
  top: number;
}

export interface ScanUniverseResult {
  /** symbols with a position or an open order of this deployment */
  held: string[];
  /** the best candidates, ranked */
  ranked: Candidate[];
  screened: number;
  passed: number;
  /** per reason, how many symbols it left out */
  rejected: Record<string, number>;
  at: number;
}

interface ScannerDeps {
  db: Queryable;
  loadRecentBars(input: LoadRecentBarsInput): Promise<LoadRecentBarsResult>;
}

/** Symbols screened at once (each a cache or Postgres read). */
const PARALLEL = 8;

/**
 * The scanner's read of its universe, as one local activity so the workflow history holds the ranked shortlist
 * (a few hundred bytes), not the bars of up to 200 symbols; the screen and the ranking are domain/deployment/scanner.ts.
 */
export function createScannerActivities({ db, loadRecentBars }: ScannerDeps) {
  return {
    async scanUniverse(input: ScanUniverseInput): Promise<ScanUniverseResult> {
      const positions = await positionsFromFills(db, input.deploymentId);
      const open = await openLedgerOrders(db, input.deploymentId);
      const held = [...new Set([...positions.filter((p) => Math.abs(p.qty) > QTY_TOLERANCE).map((p) => p.symbol), ...open.map((o) => o.symbol)])].sort();
      const rejected: Record<string, number> = {};
      const passed: Candidate[] = [];
      const symbols = input.screen ? input.symbols : [];
      for (let i = 0; i < symbols.length; i += PARALLEL) {
        const screened = await Promise.all(symbols.slice(i, i + PARALLEL).map((symbol) => screen(symbol)));
        for (const s of screened) {
          if (s.ok) passed.push(s.candidate);
          else rejected[s.reason] = (rejected[s.reason] ?? 0) + 1;
        }
      }
      return { held, ranked: rankCandidates(passed).slice(0, input.top), screened: symbols.length, passed: passed.length, rejected, at: Date.now() };

      async function screen(symbol: string): Promise<Screened | { ok: false; reason: 'market-data-unavailable' }> {
        let md: LoadRecentBarsResult;
        try {
          md = await loadRecentBars({ ...input.bars, symbol });
        } catch {
          return { ok: false, reason: 'market-data-unavailable' };
        }
        const bars = allocateBars(md.bars.length);
        for (const b of md.bars) appendBar(bars, b);
        try {
          return screenSymbol(symbol, bars, { scanner: input.scanner, strategy: input.strategy, params: input.params, barOpenMs: input.bars.asOfMs });
        } catch {
          return { ok: false, reason: 'no-entry-signal' }; // params the strategy refuses: the cycle's own decision records why
        }
      }
    },

    /** The scanner's phase on its deployments row (the API lists it without asking the runtime). */
    async setDeploymentPhase(args: { deploymentId: string; phase: ScannerPhase }): Promise<void> {
      await setDeploymentPhase(db, args.deploymentId, args.phase);
    },
  };
}
