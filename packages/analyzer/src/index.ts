/**
 * `@taskrunner/analyzer`: decides before anything runs whether a Code-node snippet may run, and
 * what data it needs. Fails closed.
 */

/** What a snippet needs from the broker. */
export * from "./DataNeeds.js"

/** The JavaScript analysis (pure functions). */
export * from "./JavaScriptAnalysis.js"

/** The JavaScript policy and its defaults. */
export * from "./JsPolicy.js"

/** The Effect service. */
export * from "./SecurityAnalyzer.js"

/** The verdict cache. */
export * from "./VerdictCache.js"

/** The Python analysis (a CPython helper process). */
export * from "./PythonAnalysis.js"
