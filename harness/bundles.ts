import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { REPO_ROOT } from './paths';

/** Interceptors in every bundle: the inbound guard keeps hostile messages from wedging a workflow (see there). */
const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/inbound-guard')];

/**
 * How every bundle is built: the interceptors, and workflows/stack-traces.ts preloaded. Preloaded modules run once per
 * workflow thread before the SDK freezes the sandbox's globals, which is the only point where Error.stackTraceLimit
 * can still be set (a workflow module that sets it later changes nothing: Error is frozen by then).
 */
export function bundleOptions(workflowsPath: string) {
  return { workflowsPath, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, preloadModules: [require.resolve('../workflows/stack-traces')], logger: quietLogger };
}

/** Pre-builds the workflow bundles the workers load (`dist/bundles/{cpu,io}.js`), so workers start without webpack. */
export async function buildBundles(outDir = path.join(REPO_ROOT, 'dist', 'bundles')): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const kind of ['cpu', 'io'] as const) {
    const { code } = await bundleWorkflowCode(bundleOptions(require.resolve(`../workflows/${kind}`)));
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
  const { code } = await bundleWorkflowCode(bundleOptions(workflowsPath));
  writeFileSync(path.join(outDir, 'io.js'), code);
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error, log: noop };
