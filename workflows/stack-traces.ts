/**
 * Workflow code captures no stack frames (preloaded in every bundle: harness/bundles.ts, where it says why preloaded).
 *
 * Why: the SDK's promise hook formats a source-mapped stack trace for every promise a workflow creates, for the
 * stack-trace query. At a bar close with hundreds of deployments acting, that hook and the garbage it leaves were
 * the largest part of the IO worker's workflow threads (a CPU profile of `npm run bench -- runtime`; the bench
 * reports the effect as a ratio). What is lost: the Temporal UI's "Stack Trace" tab and the stack of a failure
 * thrown in workflow code. Failures keep their type and message, and every decision stays in the history.
 */
Error.stackTraceLimit = 0;
