import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../../platform/config';

/** Where global-setup records the servers it started for this test run. */
export const STACK_FILE = path.join(process.env.TEST_STACK_DIR ? path.resolve(process.env.TEST_STACK_DIR) : path.resolve(__dirname, '..', '.artifacts'), 'stack.json');

export interface TestStack {
  DATABASE_URL: string;
  REDIS_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  /** the Temporal UI of the dev server, when started */
  TEMPORAL_UI_URL?: string;
  /** path of the executable that starts the time-skipping test server */
  TIME_SKIPPING_SERVER: string;
  /** pre-built workflow bundles for this run */
  WORKFLOW_BUNDLE_DIR: string;
}

/** The real servers started by global-setup; fails loudly when setup did not run. */
export function testStack(): TestStack {
  try {
    return JSON.parse(readFileSync(STACK_FILE, 'utf8')) as TestStack;
  } catch {
    throw new Error(`${STACK_FILE} is missing: run tests through \`npm test\` (jest's globalSetup starts Postgres, Redis and Temporal)`);
  }
}

/** Fixed test API keys, one per role (16+ characters, as the config demands). */
export const TEST_KEYS = {
  viewer: 'test-viewer-key-0000000001',
  trader: 'test-trader-key-0000000002',
  trader2: 'test-trader-key-0000000003',
  approver: 'test-approver-key-000000004',
  admin: 'test-admin-key-00000000005',
} as const;

export const TEST_API_KEYS = [
  `${TEST_KEYS.viewer}:viewer:vera`,
  `${TEST_KEYS.trader}:trader:tom`,
  `${TEST_KEYS.trader2}:trader:tina`,
  `${TEST_KEYS.approver}:approver:alice`,
  `${TEST_KEYS.admin}:admin:ada`,
].join(',');

/** A validated Config pointing at the test servers. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  const s = testStack();
  return loadConfig({
    DATABASE_URL: s.DATABASE_URL,
    REDIS_URL: s.REDIS_URL,
    TEMPORAL_ADDRESS: s.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: s.TEMPORAL_NAMESPACE,
    WORKFLOW_BUNDLE_DIR: s.WORKFLOW_BUNDLE_DIR,
    API_KEYS: TEST_API_KEYS,
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}

/** ../shared/data beside the repository. */
export { SHARED_DATA } from '../../harness/paths';
