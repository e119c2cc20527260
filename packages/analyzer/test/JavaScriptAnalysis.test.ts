import { describe, expect, it } from "@effect/vitest"
import { attackJavaScript } from "@taskrunner/corpus"
import { benignJavaScript } from "@taskrunner/corpus"
import { analyzeJavaScript, blockedMemberReasons, defaultJsPolicy, parseAllowList } from "../src/index.js"
import type { JsPolicy, JsVerdict } from "../src/index.js"

const analyze = (code: string, policy: Partial<JsPolicy> = {}) =>
  analyzeJavaScript(code, { ...defaultJsPolicy, ...policy })

const assertAccepted = (verdict: JsVerdict) => {
  if (verdict._tag === "Rejected") {
    throw new Error(
      `expected acceptance, got ${verdict.error.message}: ${
        "description" in verdict.error ? verdict.error.description : ""
      }`
    )
  }
  return verdict.dataNeeds
}

/** The description lines of a security rejection (fails the test on anything else). */
const findings = (verdict: JsVerdict): ReadonlyArray<string> => {
  if (verdict._tag !== "Rejected" || verdict.error._tag !== "SecurityViolation") {
    throw new Error(`expected a security rejection, got ${JSON.stringify(verdict)}`)
  }
  expect(verdict.error.message).toBe("Security violations detected")
  return verdict.error.description.split("\n")
}

const kind = (verdict: JsVerdict) => (verdict._tag === "Accepted" ? "accepted" : verdict.error._tag)

describe("parsing as the executor runs it", () => {
  it("top-level await and return are legal", () => {
    assertAccepted(analyze("await null\nreturn []"))
  })

  it("parses sloppy code as n8n's runner runs it (undeclared loop variables, legacy octals)", () => {
    expect(kind(analyze("for (item of items) { item.json.x = 1 }\nlet b = 010\nreturn items"))).toBe("accepted")
  })

  it("a syntax error carries the parser's message and the user's line and column", () => {
    const verdict = analyze("const ok = 1\nconst bad = )\nreturn []")
    expect(verdict).toMatchObject({
      _tag: "Rejected",
      error: { _tag: "CodeSyntaxError", message: "Unexpected token ')'", lineNumber: 2 }
    })
  })

  it("code that closes the wrapper function early is refused, not analysed in pieces", () => {
    expect(kind(analyze("return 1\n}\nprocess.exit()\nfunction f() {"))).toBe("CodeSyntaxError")
  })

  it("oversize input is refused without parsing", () => {
    const verdict = analyze("return []".padEnd(2000, " "), { maxCodeLength: 1000 })
    expect(verdict).toMatchObject({ _tag: "Rejected", error: { _tag: "AnalysisFailed" } })
    expect(verdict._tag === "Rejected" && verdict.error.message).toMatch(/2000 characters long; the limit is 1000/)
  })

  it("nesting too deep for the parser is refused (fail closed), not skipped", () => {
    const verdict = analyze(`return ${"(".repeat(20_000)}1${")".repeat(20_000)}`)
    expect(verdict).toMatchObject({
      _tag: "Rejected",
      error: { _tag: "AnalysisFailed", message: "The code is nested too deeply to be analysed." }
    })
  })

  it("reports every finding, one line each, in order", () => {
    const lines = findings(analyze("const a = process.env\nconst b = eval('1')\nreturn a.constructor"))
    expect(lines).toEqual([
      "Line 1: Access to 'process' is disallowed, because it reaches the runner process.",
      "Line 2: Access to 'eval' is disallowed, because it compiles code from strings.",
      "Line 3: Access to member 'constructor' is disallowed, because it can be used to reach the Function constructor."
    ])
  })
})

describe("rule: modules", () => {
  it("require of a module not allow-listed names it and lists what is allowed", () => {
    expect(findings(analyze("return require('fs')", { allowBuiltin: ["crypto", "path"] }))).toEqual([
      "Line 1: Module 'fs' is disallowed. Allowed built-in modules: crypto, path"
    ])
    expect(findings(analyze("return require('lodash')"))).toEqual([
      "Line 1: Module 'lodash' is disallowed. Allowed external modules: none"
    ])
  })

  it("near miss: allow-listed modules pass, with or without node:, and subpaths of allowed packages", () => {
    assertAccepted(analyze("return require('crypto')", { allowBuiltin: ["crypto"] }))
    assertAccepted(analyze("return require('node:crypto')", { allowBuiltin: ["crypto"] }))
    assertAccepted(analyze("return require('crypto')", { allowBuiltin: ["node:crypto"] }))
    assertAccepted(analyze("return require('lodash/fp')", { allowExternal: ["lodash"] }))
    assertAccepted(analyze("return require('@scope/pkg/sub')", { allowExternal: ["@scope/pkg"] }))
    expect(kind(analyze("return require('@scope/other')", { allowExternal: ["@scope/pkg"] }))).toBe("SecurityViolation")
  })

  it("* allows every module of its kind, and only of its kind", () => {
    assertAccepted(analyze("return [require('fs'), require('child_process')]", { allowBuiltin: "*" }))
    expect(kind(analyze("return require('lodash')", { allowBuiltin: "*" }))).toBe("SecurityViolation")
    assertAccepted(analyze("return require('lodash')", { allowExternal: "*" }))
    expect(kind(analyze("return require('fs')", { allowExternal: "*" }))).toBe("SecurityViolation")
  })

  it("computed module names are refused; folded constants are not computed", () => {
    expect(findings(analyze("const m = 'fs'\nreturn require(m)", { allowBuiltin: "*" }))).toEqual([
      "Line 2: Modules must be named with a string literal, e.g. require(\"crypto\"); computed module names are disallowed."
    ])
    assertAccepted(analyze("return require('cry' + `pto`)", { allowBuiltin: ["crypto"] }))
  })

  it("import() is checked like require", () => {
    expect(findings(analyze("return await import('fs')"))).toEqual([
      "Line 1: Module 'fs' is disallowed. Allowed built-in modules: none"
    ])
    assertAccepted(analyze("return await import('crypto')", { allowBuiltin: ["crypto"] }))
  })

  it("static import declarations are refused with a pointer to require", () => {
    expect(findings(analyze("import fs from 'fs'\nimport { x } from 'y'\nreturn []"))).toEqual([
      "Line 1: Static import declarations are not supported in Code nodes; use const x = require(\"module\") instead.",
      "Line 2: Static import declarations are not supported in Code nodes; use const x = require(\"module\") instead."
    ])
  })

  it("files and URLs cannot be required, even with *", () => {
    for (const name of ["./local", "/etc/passwd", "file:///etc/passwd", "data:text/javascript,1"]) {
      expect(findings(analyze(`return require('${name}')`, { allowBuiltin: "*", allowExternal: "*" }))[0]).toMatch(
        /only modules can be required by name, not files or URLs/
      )
    }
  })

  it("require used as a value is refused; near miss: typeof require", () => {
    expect(findings(analyze("const r = require\nreturn r('fs')"))).toEqual([
      "Line 1: 'require' can only be called directly with a module name, e.g. require(\"crypto\")."
    ])
    expect(kind(analyze("return require.resolve('fs')"))).toBe("SecurityViolation")
    assertAccepted(analyze("return [{ json: { t: typeof require } }]"))
  })

  it("parses allow-list variables as n8n does", () => {
    expect(parseAllowList(undefined)).toEqual([])
    expect(parseAllowList("")).toEqual([])
    expect(parseAllowList(" crypto , path,,")).toEqual(["crypto", "path"])
    expect(parseAllowList("*")).toBe("*")
  })
})

describe("rule: globals that reach the host", () => {
  for (const name of defaultJsPolicy.deniedGlobals) {
    it(`${name} is refused when it is the global`, () => {
      expect(findings(analyze(`const v = ${name}\nreturn []`))[0]).toMatch(
        new RegExp(`^Line 1: Access to '${name}' is disallowed, because`)
      )
    })
  }

  it("near miss: names the user declared are the user's own", () => {
    assertAccepted(analyze("const process = (x) => x\nreturn [{ json: { v: process(1) } }]"))
    assertAccepted(analyze("function module() { return 1 }\nreturn [{ json: { m: module() } }]"))
    assertAccepted(analyze("return [1].map((exports) => ({ json: { exports } }))"))
    assertAccepted(analyze("try { throw 1 } catch (process) { return [{ json: { process } }] }"))
  })

  it("near miss: obj.process on a user object is a property, not the global (documented choice)", () => {
    // Member names are only refused when they reach engine internals; `process` as a data key
    // is common in workflow data, and `$json.process` cannot reach the host.
    assertAccepted(analyze("return [{ json: { p: $json.process, e: $json.eval } }]"))
  })

  it("near miss: typeof of a denied global and instanceof Function are harmless", () => {
    assertAccepted(
      analyze("return [{ json: { a: typeof process, b: typeof eval, c: (() => 1) instanceof Function } }]")
    )
  })

  it("globalThis, global and self are refused when used to reach a denied name", () => {
    for (
      const code of [
        "return globalThis.process",
        "return global['eval']",
        "return self.Function",
        "const { module: m } = globalThis\nreturn m"
      ]
    ) {
      expect(findings(analyze(code))[0]).toMatch(/through '(globalThis|global|self)' is disallowed/)
    }
  })

  it("near miss: globalThis for ordinary globals, and a user variable called self", () => {
    assertAccepted(analyze("return [{ json: { pi: globalThis.Math.PI, s: typeof globalThis.structuredClone } }]"))
    assertAccepted(analyze("const self = { process: 1 }\nreturn [{ json: { p: self.process } }]"))
  })

  it("the deny list is configurable", () => {
    assertAccepted(analyze("return [{ json: { e: eval('1') } }]", { deniedGlobals: ["process"] }))
    expect(kind(analyze("return fetch('http://x')", { deniedGlobals: ["fetch"] }))).toBe("SecurityViolation")
  })
})

describe("rule: members that reach the engine", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["constructor", "return x.constructor"],
    ["__proto__", "return x.__proto__"],
    ["__defineGetter__", "x.__defineGetter__('a', f)"],
    ["__defineSetter__", "x.__defineSetter__('a', f)"],
    ["__lookupGetter__", "return x.__lookupGetter__('a')"],
    ["__lookupSetter__", "return x.__lookupSetter__('a')"],
    ["caller", "return f.caller"],
    ["callee", "return arguments.callee"],
    ["prepareStackTrace", "Error.prepareStackTrace = () => 1"],
    ["captureStackTrace", "Error.captureStackTrace({})"],
    ["unscopables", "return Symbol.unscopables"]
  ]
  it("every default blocked member has a case", () => {
    expect(cases.map(([member]) => member).sort()).toEqual([...defaultJsPolicy.blockedMembers].sort())
  })

  for (const [member, code] of cases) {
    it(`${member} is refused`, () => {
      expect(findings(analyze(`const x = {}, f = () => 1\n${code}`))).toContain(
        `Line 2: Access to member '${member}' is disallowed, because ${blockedMemberReasons[member]}.`
      )
    })
  }

  it("however the name is written: computed, concatenated, template, escaped, optional, destructured, reflected", () => {
    for (
      const code of [
        "return x['constructor']",
        "return x['constr' + 'uctor']",
        "return x[`constructor`]",
        "return x[`con${'struc'}tor`]",
        "return x.constr\\u0075ctor",
        "return x['\\x63onstructor']",
        "return x?.constructor",
        "return x?.['constructor']",
        "const { constructor } = x\nreturn constructor",
        "const { ['constructor']: c } = x\nreturn c",
        "let c\n;({ constructor: c } = x)\nreturn c",
        "return Reflect.get(x, 'constructor')",
        "return Object.getOwnPropertyDescriptor(x, 'constructor')",
        "return x[flag ? 'a' : 'constructor']",
        "return x[(1, 'constructor')]"
      ]
    ) {
      expect(kind(analyze(`const x = {}, flag = true\n${code}`)), code).toBe("SecurityViolation")
    }
  })

  it("near miss: an object-literal key named constructor, a class constructor, strings in data", () => {
    assertAccepted(analyze("return [{ json: { constructor: 1, caller: 'Ada', callee: 'Bob' } }]"))
    assertAccepted(analyze("class A { constructor() { this.v = 1 } }\nreturn [{ json: new A() }]"))
    assertAccepted(analyze("return [{ json: { text: 'x.constructor and __proto__ are just words here' } }]"))
    assertAccepted(analyze("const k = 'constructor'\nreturn [{ json: { [k]: 1 } }]"))
  })

  it("an object literal that sets its prototype with __proto__ is refused", () => {
    expect(kind(analyze("return [{ json: { __proto__: null } }]"))).toBe("SecurityViolation")
    expect(kind(analyze("return [{ json: { '__proto__': null } }]"))).toBe("SecurityViolation")
    // A computed key makes an own property named `__proto__`: not a prototype change, but a key
    // every JSON reader of the result refuses later, so it is refused here, with a clear reason.
    expect(kind(analyze("return [{ json: { ['__proto__']: 1 } }]"))).toBe("SecurityViolation")
    expect(kind(analyze("return [{ json: { ['__pro' + 'to__']: 1 } }]"))).toBe("SecurityViolation")
    // A shorthand property reads a variable: `{ __proto__ }` is an own property too (refused later).
    // Stack-trace hooks as literal keys (an object put in `Error`'s place) are refused.
    expect(kind(analyze("globalThis.Error = { prepareStackTrace: (e, s) => s }\nreturn []"))).toBe(
      "SecurityViolation"
    )
    expect(kind(analyze("const o = { captureStackTrace() {} }\nreturn []"))).toBe("SecurityViolation")
    // A user key called `constructor` stays fine.
    assertAccepted(analyze("return [{ json: { constructor: 'x' } }]"))
  })

  it("with statements are refused: they turn names into property reads the rules cannot see", () => {
    expect(kind(analyze("with ({}) {}"))).toBe("SecurityViolation")
  })
})

describe("corpora", () => {
  it(`accepts all ${benignJavaScript.length} ordinary Code-node snippets`, () => {
    expect(benignJavaScript.length).toBeGreaterThanOrEqual(40)
    for (const { code, name } of benignJavaScript) {
      const verdict = analyze(code, { allowBuiltin: ["crypto"] })
      expect(
        verdict._tag,
        `${name}: ${
          verdict._tag === "Rejected"
            ? verdict.error.message + " " + ("description" in verdict.error ? verdict.error.description : "")
            : ""
        }`
      ).toBe("Accepted")
    }
  })

  it(`gives each of the ${attackJavaScript.length} attacks its expected verdict`, () => {
    expect(attackJavaScript.length).toBeGreaterThanOrEqual(40)
    const expectedTag = {
      security: "SecurityViolation",
      syntax: "CodeSyntaxError",
      failed: "AnalysisFailed",
      runtime: "accepted"
    }
    for (const attack of attackJavaScript) {
      expect(kind(analyze(attack.code)), `${attack.family}/${attack.name}`).toBe(expectedTag[attack.expected])
    }
    expect(new Set(attackJavaScript.map((a) => a.family)).size).toBeGreaterThanOrEqual(8)
  })
})
