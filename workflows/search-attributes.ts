import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes users filter on in the Temporal Web UI; registered at start-up (platform/temporal.ts). */
export const SEARCH_ATTRIBUTES = {
  jobType: defineSearchAttributeKey('JobType', SearchAttributeType.KEYWORD),
  symbol: defineSearchAttributeKey('TradingSymbol', SearchAttributeType.KEYWORD),
  strategy: defineSearchAttributeKey('StrategyName', SearchAttributeType.KEYWORD),
  deploymentId: defineSearchAttributeKey('DeploymentId', SearchAttributeType.KEYWORD),
  accountId: defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD),
  /** a scanner deployment's lifecycle phase (idle, scanning, holding, exiting), upserted by its runtime as it changes */
  phase: defineSearchAttributeKey('DeploymentPhase', SearchAttributeType.KEYWORD),
} as const;
