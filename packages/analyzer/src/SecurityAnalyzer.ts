import type { AnalysisFailed, CodeSyntaxError, SecurityViolation } from "@taskrunner/protocol"
import { Context, Effect, Layer } from "effect"
import type { DataNeeds } from "./DataNeeds.js"
import { allDataNeeds } from "./DataNeeds.js"
import { analyzeJavaScript } from "./JavaScriptAnalysis.js"
import type { JsVerdict } from "./JavaScriptAnalysis.js"
import type { JsPolicy } from "./JsPolicy.js"
import { policyFingerprint } from "./JsPolicy.js"
import { VerdictCache } from "./VerdictCache.js"

/** Why code was refused before it ran. */
export type AnalysisError = CodeSyntaxError | SecurityViolation | AnalysisFailed

/** What an accepted JavaScript snippet needs. */
export interface JsAnalysis {
  readonly dataNeeds: DataNeeds
}

/** Static analysis of Code-node snippets: the first, friendly layer of the defence. */
export interface SecurityAnalyzerShape {
  /** Accepts the snippet with its data needs, or refuses it. Cached by code and policy. */
  readonly javascript: (code: string) => Effect.Effect<JsAnalysis, AnalysisError>
}

/** A cached analyser for one policy, usable without Effect. */
export const makeJsAnalyzer = (policy: JsPolicy, capacity = 500) => {
  const cache = new VerdictCache<JsVerdict>(policyFingerprint(policy), capacity)
  return (code: string): JsVerdict => cache.getOrCompute(code, (c) => analyzeJavaScript(c, policy))
}

const fromVerdict = (verdict: JsVerdict): Effect.Effect<JsAnalysis, AnalysisError> =>
  verdict._tag === "Accepted" ? Effect.succeed({ dataNeeds: verdict.dataNeeds }) : Effect.fail(verdict.error)

/** The static analyser. */
export class SecurityAnalyzer extends Context.Tag("@taskrunner/analyzer/SecurityAnalyzer")<
  SecurityAnalyzer,
  SecurityAnalyzerShape
>() {
  /** The analyser for `policy`, with a 500-verdict LRU cache. */
  static readonly layer = (policy: JsPolicy) =>
    Layer.sync(SecurityAnalyzer, () => {
      const analyze = makeJsAnalyzer(policy)
      return SecurityAnalyzer.of({ javascript: (code) => Effect.suspend(() => fromVerdict(analyze(code))) })
    })

  /** A fake: `verdict` decides (default: accept everything, needing all data). */
  static readonly layerTest = (
    verdict: (code: string) => JsVerdict = () => ({ _tag: "Accepted", dataNeeds: allDataNeeds })
  ) =>
    Layer.succeed(
      SecurityAnalyzer,
      SecurityAnalyzer.of({ javascript: (code) => Effect.suspend(() => fromVerdict(verdict(code))) })
    )
}
