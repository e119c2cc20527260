import type { CodeSyntaxError, SecurityViolation } from "@taskrunner/protocol"
import { AnalysisFailed } from "@taskrunner/protocol"
import { Context, Effect, Either, Layer } from "effect"
import type { DataNeeds } from "./DataNeeds.js"
import { allDataNeeds } from "./DataNeeds.js"
import { analyzeJavaScript } from "./JavaScriptAnalysis.js"
import type { JsVerdict } from "./JavaScriptAnalysis.js"
import type { JsPolicy } from "./JsPolicy.js"
import { policyFingerprint } from "./JsPolicy.js"
import { PythonAnalyzerHelper, pythonAnalyzerScript } from "./PythonAnalysis.js"
import type { PythonPolicy, PythonVerdict } from "./PythonAnalysis.js"
import { VerdictCache } from "./VerdictCache.js"

/** Why code was refused before it ran. */
export type AnalysisError = CodeSyntaxError | SecurityViolation | AnalysisFailed

/** What an accepted JavaScript snippet needs. */
export interface JsAnalysis {
  readonly dataNeeds: DataNeeds
}

/** Static analysis of Code-node snippets: the first, friendly layer of the defence. */
export interface SecurityAnalyzerShape {
  /**
   * Accepts the snippet with its data needs, or refuses it. Cached by code and policy.
   * Synchronous (an `Either`, which is also an effect): the runner decides before it starts a fiber.
   */
  readonly javascript: (code: string) => Either.Either<JsAnalysis, AnalysisError>
  /** Accepts or refuses a Python snippet (CPython's own `ast`, in a helper process). Cached. */
  readonly python: (code: string) => Effect.Effect<void, AnalysisError>
}

/** A cached analyser for one policy, usable without Effect. */
export const makeJsAnalyzer = (policy: JsPolicy, capacity = 500) => {
  const cache = new VerdictCache<JsVerdict>(policyFingerprint(policy), capacity)
  return (code: string): JsVerdict => cache.getOrCompute(code, (c) => analyzeJavaScript(c, policy))
}

const fromVerdict = (verdict: JsVerdict): Either.Either<JsAnalysis, AnalysisError> =>
  verdict._tag === "Accepted" ? Either.right({ dataNeeds: verdict.dataNeeds }) : Either.left(verdict.error)

const noPython = (code: string): Effect.Effect<void, AnalysisError> =>
  Effect.fail(new AnalysisFailed({ message: `Python analysis is not configured (${code.length} characters refused)` }))

/** A cached Python analyser on a helper process; `close` stops the helper. */
export const makePythonAnalyzer = (policy: PythonPolicy, capacity = 500) => {
  const script = pythonAnalyzerScript()
  if (script === undefined) throw new Error("The Python analyser script (python/task_analyzer.py) is missing")
  const helper = new PythonAnalyzerHelper(policy, script)
  const fingerprint = JSON.stringify([
    policy.stdlibAllow === "*" ? "*" : [...policy.stdlibAllow].sort(),
    policy.externalAllow === "*" ? "*" : [...policy.externalAllow].sort(),
    policy.maxCodeLength,
    policy.pythonPath
  ])
  const cache = new VerdictCache<PythonVerdict>(fingerprint, capacity)
  const analyze = async (code: string): Promise<PythonVerdict> => {
    const key = cache.key(code)
    const hit = cache.lookup(key)
    if (hit !== undefined) return hit
    const verdict = await helper.analyze(code)
    // A refusal because the helper died or stalled is not a property of the code: not cached.
    if (verdict._tag === "Accepted" || verdict.error._tag !== "AnalysisFailed") cache.store(key, verdict)
    return verdict
  }
  return { analyze, helper, close: () => helper.close() }
}

/** The static analyser. */
export class SecurityAnalyzer extends Context.Tag("@taskrunner/analyzer/SecurityAnalyzer")<
  SecurityAnalyzer,
  SecurityAnalyzerShape
>() {
  /** The analyser for JavaScript (and Python, with a helper process for this scope), with 500-verdict LRU caches. */
  static readonly layer = (policy: JsPolicy, python?: PythonPolicy) =>
    Layer.scoped(
      SecurityAnalyzer,
      Effect.gen(function*() {
        const analyze = makeJsAnalyzer(policy)
        const py = python === undefined
          ? undefined
          : yield* Effect.acquireRelease(Effect.sync(() => makePythonAnalyzer(python)), (a) =>
            Effect.sync(() => a.close()))
        return SecurityAnalyzer.of({
          javascript: (code) =>
            fromVerdict(analyze(code)),
          python: py === undefined
            ? noPython
            : (code) =>
              Effect.flatMap(
                Effect.promise(() => py.analyze(code)),
                (verdict) => verdict._tag === "Accepted" ? Effect.void : Effect.fail(verdict.error)
              )
        })
      })
    )

  /** A fake: `verdict` decides for JavaScript (default: accept everything, needing all data); Python is accepted. */
  static readonly layerTest = (
    verdict: (code: string) => JsVerdict = () => ({ _tag: "Accepted", dataNeeds: allDataNeeds })
  ) =>
    Layer.succeed(
      SecurityAnalyzer,
      SecurityAnalyzer.of({
        javascript: (code) => fromVerdict(verdict(code)),
        python: () => Effect.void
      })
    )
}
