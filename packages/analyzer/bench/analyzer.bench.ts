import { benignJavaScript } from "@taskrunner/corpus"
import { bench, describe } from "vitest"
import { analyzeJavaScript, defaultJsPolicy, makeJsAnalyzer } from "../src/index.js"

/** Realistic code of about `size` characters: the benign corpus, each snippet in its own function. */
const snippetOf = (size: number): string => {
  const parts: Array<string> = []
  let length = 0
  for (let i = 0; length < size; i++) {
    const { code } = benignJavaScript[i % benignJavaScript.length]!
    const part = `async function part${i}() {\n${code}\n}`
    parts.push(part)
    length += part.length + 1
  }
  return `${parts.join("\n")}\nreturn []`
}

const policy = { ...defaultJsPolicy, allowBuiltin: ["crypto"] }

for (const [label, size] of [["1 KB", 1024], ["10 KB", 10 * 1024], ["100 KB", 100 * 1024]] as const) {
  const code = snippetOf(size)
  if (analyzeJavaScript(code, policy)._tag !== "Accepted") throw new Error(`the ${label} snippet is not accepted`)
  const cached = makeJsAnalyzer(policy)
  cached(code)
  describe(`${label} snippet`, () => {
    bench("cold (no cache)", () => {
      analyzeJavaScript(code, policy)
    })
    bench("cached verdict", () => {
      cached(code)
    })
  })
}
