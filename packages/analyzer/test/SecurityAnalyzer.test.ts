import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { defaultJsPolicy, makeJsAnalyzer, SecurityAnalyzer, VerdictCache } from "../src/index.js"

describe("the verdict cache", () => {
  it("returns the same verdict object on a hit, keyed by code and policy", () => {
    const analyze = makeJsAnalyzer(defaultJsPolicy)
    const first = analyze("return $input.all()")
    expect(analyze("return $input.all()")).toBe(first)
    expect(analyze("return $input.all() ")).not.toBe(first)
    const permissive = makeJsAnalyzer({ ...defaultJsPolicy, allowBuiltin: "*" })
    expect(permissive("return require('fs')")._tag).toBe("Accepted")
    expect(analyze("return require('fs')")._tag).toBe("Rejected")
  })

  it("evicts the least recently used entry at capacity", () => {
    const cache = new VerdictCache<number>("policy", 3)
    let computed = 0
    const get = (code: string) => cache.getOrCompute(code, () => ++computed)
    get("a")
    get("b")
    get("c")
    get("a") // a is now the most recent
    get("d") // evicts b
    expect(cache.size).toBe(3)
    expect(get("a")).toBe(1)
    expect(get("c")).toBe(3)
    expect(get("b")).toBe(5) // recomputed
  })

  it("keys differ by policy fingerprint, and the code is not retained", () => {
    const a = new VerdictCache<number>("policy-a")
    const b = new VerdictCache<number>("policy-b")
    expect(a.key("x")).not.toBe(b.key("x"))
    expect(a.key("x")).toMatch(/^[A-Za-z0-9+/]{43}=$/)
  })
})

describe("SecurityAnalyzer", () => {
  it.effect("accepts with data needs", () =>
    Effect.gen(function*() {
      const analyzer = yield* SecurityAnalyzer
      const analysis = yield* analyzer.javascript("return [{ json: { k: $env.K } }]")
      expect(analysis.dataNeeds.env).toBe(true)
    }).pipe(Effect.provide(SecurityAnalyzer.layer(defaultJsPolicy))))

  it.effect("fails with typed errors", () =>
    Effect.gen(function*() {
      const analyzer = yield* SecurityAnalyzer
      const security = yield* Effect.flip(analyzer.javascript("return process.env"))
      expect(security._tag).toBe("SecurityViolation")
      const syntax = yield* Effect.flip(analyzer.javascript("return ("))
      expect(syntax._tag).toBe("CodeSyntaxError")
      const handled = yield* analyzer.javascript("return eval('1')").pipe(
        Effect.catchTag("SecurityViolation", (e) => Effect.succeed(e.description))
      )
      expect(handled).toMatch(/^Line 1: Access to 'eval'/)
    }).pipe(Effect.provide(SecurityAnalyzer.layer(defaultJsPolicy))))

  it.effect("layerTest decides as told", () =>
    Effect.gen(function*() {
      const analyzer = yield* SecurityAnalyzer
      const analysis = yield* analyzer.javascript("anything at all")
      expect(analysis.dataNeeds.dataOfNodes).toBe("all")
    }).pipe(Effect.provide(SecurityAnalyzer.layerTest())))
})
