// The market-data workflows (io queue): feeds, backfill jobs, the daily quality report.
export { marketDataFeedWorkflow } from './feed';
export { marketDataBackfillWorkflow } from './backfill';
export { marketDataQualityReportWorkflow } from './report';
