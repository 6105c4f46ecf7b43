import type { BarColumns } from '../bars';
import type { Metrics } from '../backtest/types';
import { cellSettings, type PreparedScan } from './prepare';
import { cellParams } from './space';
import { runWindow, type BarWindow } from './window';

/** One cell's backtest, as scans report and persist it (no trade list: `trades` counts the fills). */
export interface CellResult {
  cell: number;
  /** the scanned parameters of this cell (the base parameters are in the scan's assumptions) */
  params: Record<string, number>;
  finalEquity: number;
  cash: number;
  position: number;
  /** fills, as in a backtest job's result */
  trades: number;
  metrics: Metrics;
}

export type Progress = (done: number, total: number) => void;

/**
 * Runs a batch of cells on bars already in memory (load them once per scan or per batch, never per cell). The
 * same call serves the CLI's in-process scan and the CPU worker's batch activity; the result depends only on
 * the bars, the scan and the cell indexes, never on how cells are batched. With a window, every cell runs on
 * it (walk-forward train and test runs); `onProgress` is called after each cell.
 */
export function runCells(bars: BarColumns, scan: PreparedScan, cells: readonly number[], onProgress?: Progress, window?: BarWindow): CellResult[] {
  const out: CellResult[] = [];
  for (const cell of cells) {
    const { run, result } = runWindow(bars, cellSettings(scan, cell), window);
    out.push({
      cell,
      params: cellParams(scan.space, cell),
      finalEquity: result.finalEquity,
      cash: result.cash,
      position: result.position,
      trades: run.fillCount,
      metrics: result.metrics,
    });
    onProgress?.(out.length, cells.length);
  }
  return out;
}
