import type { Episode } from '../../domain/scan/episode';
import type { ScanResult } from '../../domain/scan/scan';
import { cell, fmtNumber, keyValues, pct, sizingText, table } from './format';

/** What `scan --json` prints: the scan's result with the series it ran on (file null: the bars stored for symbol and timeframe). */
export type ScanDoc = ScanResult & {
  symbol: string | null;
  timeframe: string | null;
  data: { file: string | null; rows: number; rejected: number; firstTs: string; lastTs: string };
  from: string | null;
  to: string | null;
};

const day = (isoTime: string | null) => (isoTime ? isoTime.slice(0, 10) : '-');
const params = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${cell(v)}`)
    .join(' ');

function recovery(e: Episode): string {
  if (e.maxDrawdown === 0) return '-';
  if (!e.recovered) return `not recovered (${e.underwaterBars} bars, ${Math.round(e.underwaterDays)} d under water)`;
  return `${e.recoveryBars} bars / ${Math.round(e.recoveryDays ?? 0)} d`;
}

/** The readable form of a scan: what ran on what, then a table per part of the result. */
export function scanReport(doc: ScanDoc, top: number): string {
  const a = doc.assumptions;
  const out: string[] = [
    keyValues([
      [
        'data',
        doc.data.file === null
          ? `${doc.symbol} ${doc.timeframe} (stored): ${doc.bars.count} bars, ${day(doc.bars.first)} .. ${day(doc.bars.last)}`
          : `${doc.data.file}: ${doc.bars.count} bars in the window (${doc.data.rows} in the file, ${doc.data.rejected} rejected), ${day(doc.bars.first)} .. ${day(doc.bars.last)}`,
      ],
      ['scan', `${doc.type}, ${a.strategy}${Object.keys(a.params).length ? ` on ${params(a.params)}` : ''}`],
      ...(a.scan.objective ? ([['objective', `${a.scan.objective}${a.scan.maxDrawdown !== undefined ? `, max drawdown ${pct(a.scan.maxDrawdown)}` : ''}`]] as Array<[string, unknown]>) : []),
      ['costs', `commission ${a.commissionPerOrder}/order + ${a.commissionRate} of notional, slippage ${a.slippageBps} bp; ${a.fillRule} fills`],
      ['sizing', sizingText(a.sizing)],
      ['params version', `${a.paramsVersion}${a.seed !== null ? `, seed ${a.seed}` : ''}`],
    ]),
  ];
  const shown = doc.cells.slice(0, top);
  out.push(
    '',
    `cells (${doc.cells.length}${doc.cells.length > shown.length ? `, best ${shown.length}` : ''})`,
    table(
      shown.map((c) => ({
        rank: c.rank,
        cell: c.cell,
        params: params(c.params),
        objective: c.eligible ? c.objective : `${fmtNumber(c.objective)} (dd)`,
        'final equity': c.finalEquity,
        return: pct(c.metrics.totalReturn),
        sharpe: c.metrics.sharpe,
        'max dd': pct(c.metrics.maxDrawdown),
        fills: c.trades,
      })),
    ),
  );
  if (doc.folds && doc.walkForward) {
    const w = doc.walkForward;
    out.push(
      '',
      'walk-forward folds',
      table(
        doc.folds.map((f) => ({
          fold: f.fold,
          train: `${day(f.trainFrom)} .. ${day(f.trainTo)}`,
          test: `${day(f.testFrom)} .. ${day(f.testTo)}`,
          params: params(f.params),
          'IS return': pct(f.inSample.totalReturn),
          'OOS return': pct(f.outOfSample.totalReturn),
          'OOS max dd': pct(f.outOfSample.metrics.maxDrawdown),
        })),
      ),
      keyValues([
        ['out-of-sample', `final equity ${fmtNumber(w.stitched.finalEquity)}, return ${pct(w.stitched.totalReturn)}, annualised ${pct(w.stitched.annualisedReturn)}`],
        ['efficiency', w.efficiency === null ? 'n/a (in-sample annualised return <= 0)' : `${fmtNumber(w.efficiency)} (OOS ${pct(w.outOfSampleAnnualisedReturn)} / IS ${pct(w.inSampleAnnualisedReturn)} a year)`],
        ['param stability', `${fmtNumber(w.paramStability.score)}; ${Object.entries(w.paramStability.params).map(([k, s]) => `${k}: modal ${cell(s.modal)} in ${pct(s.modalShare)} of folds, cv ${cell(s.cv)}`).join('; ')}`],
      ]),
    );
  }
  if (doc.monteCarlo) {
    const mc = doc.monteCarlo;
    const rows = (['shuffle', 'bootstrap', 'blockBootstrap'] as const).flatMap((m) => {
      const s = mc[m];
      if (!s) return [];
      return [
        {
          method: m,
          paths: s.paths,
          'return p5/p50/p95': `${pct(s.finalReturn.p5)} / ${pct(s.finalReturn.p50)} / ${pct(s.finalReturn.p95)}`,
          'max dd p5/p50/p95': `${pct(s.maxDrawdown.p5)} / ${pct(s.maxDrawdown.p50)} / ${pct(s.maxDrawdown.p95)}`,
          [`P(loss > ${pct(s.lossThreshold)})`]: pct(s.probLossAbove),
          [`P(dd > ${pct(s.lossThreshold)})`]: pct(s.probDrawdownAbove),
        },
      ];
    });
    out.push('', `Monte Carlo (${mc.roundTrips} round trips)`, table(rows));
  }
  if (doc.blackSwan) {
    const bs = doc.blackSwan;
    out.push(
      '',
      'crisis windows',
      table(
        bs.crises.map((c) => ({
          crisis: c.name,
          window: `${c.from} .. ${c.to}${c.complete ? '' : ' (partly in the data)'}`,
          bars: c.bars,
          return: pct(c.strategy.return),
          'max dd': pct(c.strategy.maxDrawdown),
          recovery: recovery(c.strategy),
          'instrument dd': pct(c.instrument.maxDrawdown),
        })),
      ),
    );
    if (bs.notCovered.length) out.push(`not in the data: ${bs.notCovered.join(', ')}`);
    out.push(
      '',
      'synthetic shocks',
      table(
        bs.shocks.map((s) => ({
          shock: s.shock.kind === 'gap' ? `gap -${pct(s.shock.pct)}` : s.shock.kind === 'volatility' ? `volatility x${s.shock.factor}` : `slippage x${s.shock.factor} (${s.slippageBps} bp)`,
          window: s.from === s.to ? day(s.from) : `${day(s.from)} .. ${day(s.to)}`,
          'final equity': s.finalEquity,
          'unshocked': s.baseFinalEquity,
          'max dd': pct(s.episode.maxDrawdown),
          recovery: recovery(s.episode),
        })),
      ),
    );
  }
  return out.join('\n');
}
