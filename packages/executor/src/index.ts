/**
 * `@taskrunner/executor`: runs one task's code in a jailed child process and returns its result,
 * its console output, or a precise error.
 */

/** The service and its options. */
export * from "./CodeExecutor.js"

/** The jail tiers. */
export * from "./Sandbox.js"

/** Process trees of the jails (kill, memory). */
export * from "./ProcessTree.js"

/** Descriptors the runner inherited, closed before any child starts. */
export * from "./Descriptors.js"
