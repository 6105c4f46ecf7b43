import * as wf from '@temporalio/workflow';
import type { PlaceOrderResult } from '../../activities/orders';
import { timeframeMs } from '../../domain/calendar';
import { decideScannerSymbol, EntryPicker, scannerPhase } from '../../domain/deployment/scanner';
import { SCANNER_SPARE_CANDIDATES, type ScannerPhase } from '../../domain/deployment/scanner-spec';
import { eodWindow, exchangeDate } from '../../domain/eod/policy';
import { SEARCH_ATTRIBUTES } from '../search-attributes';
import { scanUniverse, setDeploymentPhase } from './activities';
import type { Cycles } from './cycle';
import type { Runtime } from './runtime';

/** Bars held per symbol in a scanner's cycle: the exits and the staleness check look at the last few only. */
const SCANNER_WINDOW_BARS = 20;
/** Bars read per symbol by the screen: every strategy's warm-up at its default and common parameters (as a cycle). */
const SCREEN_BARS = 300;

/**
 * The intraday scanner's cycle (spec.scanner; the rules are domain/deployment/scanner.ts): screen the universe and
 * rank it (one local activity: the history holds the shortlist, not 200 symbols' bars), then one ordinary cycle
 * (./cycle.ts: sync, bars, risk gate, the ledger's exactly-once orders, audit rows) over the symbols it holds and the
 * best candidates for its open slots. A held symbol leaves by its exits only, or whole at the end of day; a candidate
 * is entered through its symbol lock, and one another deployment holds makes room for the next. From the close minus
 * the eod margin nothing is entered and what is held is closed. Its phase goes to the row, the state query and the
 * DeploymentPhase search attribute whenever it changes.
 */
export class Scanner {
  constructor(
    private readonly rt: Runtime,
    private readonly cycles: Cycles,
  ) {}

  async run(barClose: number): Promise<void> {
    const { rt } = this;
    const { spec } = rt;
    const scanner = spec.scanner!;
    const day = eodWindow(spec.calendar, exchangeDate(spec.calendar, barClose - 1), spec.eod!.marginMinutes);
    // The bar closing at the close minus the margin is the first with no entries (its cycle runs after that moment).
    const exiting = !day || barClose >= day.reduceOnlyAtMs;
    const entering = !exiting && rt.mayOrder();
    const tfMs = timeframeMs(spec.timeframe);
    rt.waitingOn = `cycle ${rt.carry.cycle + 1}: screening ${spec.symbols.length} symbols`;
    const screenLine = `cycle ${rt.carry.cycle + 1} · ${entering ? `screen ${spec.symbols.length} symbols, shortlist ${Math.min(spec.symbols.length, scanner.maxPositions + SCANNER_SPARE_CANDIDATES)}` : 'read what it holds (no entries)'}`;
    const scan = await scanUniverse.executeWithOptions({ summary: screenLine }, [{
      deploymentId: rt.deploymentId, symbols: spec.symbols, strategy: spec.strategy, params: rt.carry.params, scanner,
      bars: { timeframe: spec.timeframe, limit: SCREEN_BARS, asOfMs: barClose - tfMs, maxStaleBars: spec.staleAfterBars, calendar: spec.calendar },
      screen: entering, top: scanner.maxPositions + SCANNER_SPARE_CANDIDATES,
    }]);
    rt.stepDone(scan.at);
    const picker = new EntryPicker(scan.ranked.map((c) => c.symbol), scan.held, scanner.maxPositions);
    const shortlist = entering ? picker.shortlist() : [];
    await this.setPhase(scannerPhase({ held: scan.held.length, exiting, entering }));
    const summary = { barClose, screened: scan.screened, passed: scan.passed, rejected: scan.rejected, ranked: scan.ranked.map((c) => c.symbol), held: scan.held, lockLost: picker.lost, entered: [] as string[] };
    rt.lastScan = summary;
    await this.cycles.run(barClose, {
      symbols: [...scan.held, ...shortlist],
      windowBars: SCANNER_WINDOW_BARS,
      decide: (input) => decideScannerSymbol(input, { exiting, entry: entering && picker.wants(input.symbol!) }),
      placed: (symbol: string, placed: PlaceOrderResult) => {
        if (!picker.wants(symbol)) return; // an exit
        const outcome = placed.lockedBy !== undefined ? 'lost' : placed.state === 'REJECTED' || placed.state === 'CANCELED' ? 'refused' : 'taken';
        picker.settle(symbol, outcome);
        if (outcome === 'taken') summary.entered.push(symbol);
      },
    });
    // Entries taken make it hold; exits sent this bar count from the next screen (the broker says when it is flat).
    await this.setPhase(scannerPhase({ held: picker.heldCount(), exiting, entering }));
  }

  /** The phase on the row, the search attribute and the carried state, when it changed. */
  private async setPhase(phase: ScannerPhase): Promise<void> {
    const { rt } = this;
    if ((rt.carry.scannerPhase ?? 'idle') === phase) return;
    await setDeploymentPhase.executeWithOptions({ summary: `phase ${phase}` }, [{ deploymentId: rt.deploymentId, phase }]);
    wf.upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
    rt.carry.scannerPhase = phase;
  }
}
