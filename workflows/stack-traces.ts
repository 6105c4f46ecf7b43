/**
 * Workflow code captures no stack frames (preloaded in every bundle: harness/bundles.ts, where it says why preloaded).
 *
 * Why: the SDK's promise hook formats a source-mapped stack trace for every promise a workflow creates, for the
 * stack-trace query. At a bar close with a hundred deployments acting, that hook was a fifth to a third of the IO
 * worker's workflow threads' busy time, plus the garbage it left (CPU profiles of `npm run bench -- runtime`).
 * What is lost: the Temporal UI's "Stack Trace" tab and the stack of a failure thrown in workflow code. Failures
 * keep their type and message, and every decision stays in the history.
 */
Error.stackTraceLimit = 0;
