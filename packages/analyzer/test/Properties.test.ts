import { describe, expect, it } from "@effect/vitest"
import { wrapJavaScript } from "@taskrunner/protocol"
import { FastCheck as fc } from "effect"
import { Script } from "node:vm"
import { analyzeJavaScript, defaultJsPolicy } from "../src/index.js"

/** Does V8 itself accept the snippet as the executor will compile it? */
const v8Parses = (code: string): boolean => {
  try {
    return new Script(`(${wrapJavaScript(code)})`) instanceof Script
  } catch {
    return false
  }
}

const verdictOf = (code: string) => {
  const verdict = analyzeJavaScript(code, { ...defaultJsPolicy, allowBuiltin: "*", allowExternal: "*" })
  if (verdict._tag !== "Accepted" && verdict._tag !== "Rejected") throw new Error("not a verdict")
  return verdict
}

/** Fragments that combine into plausible, often broken, JavaScript. */
const fragment = fc.constantFrom(
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  ";",
  ",",
  ".",
  "?.",
  "=>",
  "=",
  "+",
  "`",
  "${",
  "'",
  "\"",
  "/",
  "*",
  "\n",
  "return",
  "const",
  "let",
  "x",
  "y",
  "function",
  "async",
  "await",
  "class",
  "new",
  "this",
  "import",
  "export",
  "constructor",
  "__proto__",
  "process",
  "eval",
  "require",
  "1",
  "0x1F",
  "'a'",
  "yield",
  "if",
  "else",
  "with",
  "//",
  "/*",
  "*/",
  "#",
  "@",
  "\\u0063",
  "}; ",
  "in",
  "of",
  "for",
  " "
)

describe("the analyser never throws and never accepts what does not parse", () => {
  it("random strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: "binary" }), (code) => {
        const verdict = verdictOf(code)
        if (verdict._tag === "Accepted" && !v8Parses(code)) {
          throw new Error(`accepted unparsable code: ${JSON.stringify(code)}`)
        }
      }),
      { numRuns: 1000 }
    )
  })

  it("token soup close to JavaScript", () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 40 }), (parts) => {
        const code = parts.join(" ")
        const verdict = verdictOf(code)
        if (verdict._tag === "Accepted" && !v8Parses(code)) {
          throw new Error(`accepted unparsable code: ${JSON.stringify(code)}`)
        }
        const line = verdict._tag === "Rejected" && verdict.error._tag === "CodeSyntaxError"
          ? verdict.error.lineNumber
          : 1
        if (line !== undefined && line < 1) throw new Error(`a syntax error outside the user's lines: ${line}`)
      }),
      { numRuns: 3000 }
    )
  })

  it("garbage that V8 refuses is rejected, as a syntax error unless it names a static import", () => {
    const garbage = fc.array(fragment, { minLength: 1, maxLength: 30 }).map((p) => `${p.join("")} ) ) }`)
    fc.assert(
      fc.property(garbage, (code) => {
        if (v8Parses(code)) return
        const verdict = verdictOf(code)
        expect(verdict._tag).toBe("Rejected")
      }),
      { numRuns: 2000 }
    )
  })

  it("accepted snippets stay accepted when wrapped in a block (no context-dependent escapes)", () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 25 }), (parts) => {
        const code = parts.join(" ")
        if (verdictOf(code)._tag !== "Accepted") return
        const blocked = verdictOf(`{\n${code}\n}`)
        if (blocked._tag === "Rejected" && blocked.error._tag === "SecurityViolation") {
          throw new Error(`a block changed the verdict for ${JSON.stringify(code)}`)
        }
      }),
      { numRuns: 2000 }
    )
  })
})
