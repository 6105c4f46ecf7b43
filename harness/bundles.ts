import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { REPO_ROOT } from './paths';

/**
 * Modules in every bundle: the inbound guard keeps hostile messages from wedging a workflow, and stack-traces turns
 * off the per-promise stack capture that cost most of the workflow threads' CPU at scale (see each).
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/inbound-guard'), require.resolve('../workflows/stack-traces')];

/** Pre-builds the workflow bundles the workers load (`dist/bundles/{cpu,io}.js`), so workers start without webpack. */
export async function buildBundles(outDir = path.join(REPO_ROOT, 'dist', 'bundles')): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const kind of ['cpu', 'io'] as const) {
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(`../workflows/${kind}`), workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: quietLogger });
    const file = path.join(outDir, `${kind}.js`);
    writeFileSync(file, code);
    written.push(file);
  }
  return written;
}

/**
 * Writes `<outDir>/io.js` bundled from another entry point (a benchmark's: the IO workflows plus its own), for a
 * worker started with WORKFLOW_BUNDLE_DIR=outDir.
 */
export async function buildIoBundleFrom(workflowsPath: string, outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: quietLogger });
  writeFileSync(path.join(outDir, 'io.js'), code);
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error, log: noop };
