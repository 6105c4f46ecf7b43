/**
 * Stress scans, the pure half: parameter spaces, samplers, objectives and ranking, walk-forward, Monte Carlo,
 * black-swan windows and shocks, and the in-process runner. No I/O and deterministic (seeded PRNGs, no clock),
 * so workflow code may import it; the CPU worker runs batches of cells with runCells.
 */
export { ScanSpecError, type ScanIssue } from './errors';
export { SCAN_TYPES, MC_METHODS, ScanSpecSchema, parseScanSpec, type ScanSpec, type ScanSpecInput, type ScanType, type Shock, type WalkForwardSpec } from './spec';
export { prepareScan, cellSettings, paramsVersion, SCAN_FORMAT_VERSION, type PreparedScan } from './prepare';
export { buildSpace, cellParams, mergedParams, enumerateCells, checkCells, type ParamSpace } from './space';
export { buildAxis, type Axis, type AxisInput } from './range';
export { parseConstraint, type Constraint } from './constraints';
export { selectCells, type Sampler } from './sampler';
export { OBJECTIVES, objectiveValue, rank, best, type Objective, type Ranked } from './objective';
export { runCells, type CellResult, type Progress } from './runner';
export { runWindow, strategyWarmup, type BarWindow } from './window';
export { walkForwardFolds, runWalkForward, type FoldBounds, type FoldReport, type WalkForwardSummary } from './walk-forward';
export { paramStability, type ParamStability } from './stability';
export { tradePaths, summarizePaths, quantile, distribution, type PathStats, type PathSummary } from './monte-carlo';
export { blockBootstrapBars, barPaths } from './bootstrap';
export { CRISES, type CrisisWindow } from './crises';
export { measureEpisode, type Episode } from './episode';
export { runBlackSwan, type BlackSwanReport } from './black-swan';
export { runScan, scanSteps, type ScanResult, type RankedCell } from './scan';
