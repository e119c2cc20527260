import { afterAll, describe, expect, it } from "@effect/vitest"
import { attackPython, benignPython } from "@taskrunner/corpus"
import { existsSync } from "node:fs"
import { makePythonAnalyzer } from "../src/index.js"
import type { PythonPolicy, PythonVerdict } from "../src/index.js"

const python = ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => existsSync(p))
const policy = (overrides: Partial<PythonPolicy> = {}): PythonPolicy => ({
  stdlibAllow: [],
  externalAllow: [],
  pythonPath: python ?? "python3",
  maxCodeLength: 1024 * 1024,
  timeoutMs: 10_000,
  ...overrides
})

const analyzers: Array<ReturnType<typeof makePythonAnalyzer>> = []
const make = (overrides: Partial<PythonPolicy> = {}) => {
  const analyzer = makePythonAnalyzer(policy(overrides))
  analyzers.push(analyzer)
  return analyzer
}
afterAll(() => analyzers.forEach((a) => a.close()))

const lines = (verdict: PythonVerdict): ReadonlyArray<string> => {
  if (verdict._tag !== "Rejected" || verdict.error._tag !== "SecurityViolation") {
    throw new Error(`expected a security rejection, got ${JSON.stringify(verdict)}`)
  }
  expect(verdict.error.message).toBe("Security violations detected")
  return verdict.error.description.split("\n")
}

const kind = (verdict: PythonVerdict) => (verdict._tag === "Accepted" ? "accepted" : verdict.error._tag)

const bypass = "because it can be used to bypass security restrictions."

describe.runIf(python !== undefined)("the Python analyser (CPython's own ast, spec 7.6)", () => {
  const analyzer = make({ stdlibAllow: ["json", "datetime"] })
  const check = (code: string) => analyzer.analyze(code)

  it("imports: the allow-lists, with n8n's messages", async () => {
    expect(lines(await check("import os\nimport requests"))).toEqual([
      "Line 1: Import of standard library module 'os' is disallowed. Allowed stdlib modules: datetime, json",
      "Line 2: Import of external package 'requests' is disallowed. Allowed external packages: none"
    ])
    expect(kind(await check("import json\nfrom datetime import date\nimport json.decoder as d"))).toBe("accepted")
    expect(kind(await make({ stdlibAllow: "*" }).analyze("import os, sys, subprocess"))).toBe("accepted")
    expect(kind(await make({ externalAllow: "*" }).analyze("import requests"))).toBe("accepted")
    expect(lines(await make({ externalAllow: "*" }).analyze("import os"))[0]).toMatch(/Allowed stdlib modules: none/)
  })

  it("relative imports, and names bound by imports", async () => {
    expect(lines(await check("from . import x"))).toEqual(["Line 1: Relative imports are disallowed."])
    expect(lines(await check("from json import dumps as __loader__"))).toEqual([
      `Line 1: Access to name '__loader__' is disallowed, ${bypass}`
    ])
    expect(kind(await check("from json import dumps as to_text"))).toBe("accepted")
  })

  it("blocked names; near miss: ordinary names", async () => {
    for (const name of ["__builtins__", "__loader__", "__spec__", "__name__", "__globals__"]) {
      expect(lines(await check(`x = ${name}`))).toContain(`Line 1: Access to name '${name}' is disallowed, ${bypass}`)
    }
    expect(kind(await check("name = 'x'\nglobals_count = 1\nreturn [name, globals_count]"))).toBe("accepted")
  })

  it("blocked attributes; near miss: ordinary attributes and dunder methods not on the list", async () => {
    for (
      const attribute of [
        "__class__",
        "__subclasses__",
        "__globals__",
        "f_back",
        "gi_frame",
        "__mro__",
        "__dict__",
        "tb_frame"
      ]
    ) {
      expect(lines(await check(`y = x.${attribute}`))).toContain(
        `Line 1: Access to attribute '${attribute}' is disallowed, ${bypass}`
      )
    }
    expect(kind(await check("y = x.name\nz = x.__len__()\nw = 'a'.upper()"))).toBe("accepted")
  })

  it("name-mangled attributes; near miss: a private attribute", async () => {
    expect(lines(await check("y = x._Secret__key"))).toEqual([
      "Line 1: Access to name-mangled attributes (pattern: _ClassName__attr) is disallowed for security reasons."
    ])
    expect(kind(await check("y = x._private\nz = x.__len__"))).toBe("accepted")
  })

  it("format methods taken as values; near miss: calling them", async () => {
    expect(lines(await check("f = 'x'.format"))).toEqual([
      "Line 1: Extracting 'format' as a bound method is disallowed; call it directly on its receiver instead."
    ])
    expect(kind(await check("s = '{} and {name}'.format(1, name='x')\nt = '{a}'.format_map({'a': 1})"))).toBe(
      "accepted"
    )
  })

  it("__import__: constant names are import-checked, others refused", async () => {
    expect(lines(await check("m = __import__('os')"))).toEqual([
      "Line 1: Import of standard library module 'os' is disallowed. Allowed stdlib modules: datetime, json"
    ])
    expect(lines(await check("m = __import__(name)"))).toContain(
      "Line 1: Dynamic __import__() calls are not allowed for security reasons."
    )
    expect(kind(await check("m = __import__('json')"))).toBe("accepted")
  })

  it("builtins subscripts", async () => {
    expect(lines(await check("f = builtins['__import__']"))).toContain(
      `Line 1: Access to attribute '__import__' is disallowed, ${bypass}`
    )
  })

  it("string literals and concatenations equal to blocked names, and format templates reaching them", async () => {
    expect(lines(await check("k = '__class__'"))).toEqual([
      `Line 1: Access to attribute '__class__' is disallowed, ${bypass}`
    ])
    expect(lines(await check("k = '__cla' + 'ss__'"))).toEqual([
      `Line 1: Access to attribute '__class__' is disallowed, ${bypass}`
    ])
    expect(lines(await check("t = '{0.__class__}'"))).toEqual([
      `Line 1: String pattern accessing '__class__' is disallowed, ${bypass}`
    ])
    expect(lines(await check("t = '{0:{1.__globals__}}'"))).toEqual([
      `Line 1: String pattern accessing '__globals__' is disallowed, ${bypass}`
    ])
    expect(lines(await check("t = '{0[__mro__]}'"))).toEqual([
      `Line 1: String pattern accessing '__mro__' is disallowed, ${bypass}`
    ])
    expect(kind(await check("t = '{0.name} {1[key]} {2:>10}'\nnote = 'a class is a blueprint'"))).toBe("accepted")
  })

  it("definitions named after blocked names", async () => {
    expect(lines(await check("def f():\n    global __builtins__"))).toContain(
      `Line 2: Global declaration of '__builtins__' is disallowed, ${bypass}`
    )
    expect(lines(await check("def __globals__(): pass"))).toContain(
      `Line 1: Function named '__globals__' is disallowed, ${bypass}`
    )
    expect(lines(await check("class __class__: pass"))).toContain(
      `Line 1: Class named '__class__' is disallowed, ${bypass}`
    )
    expect(lines(await check("def f(__spec__): pass"))).toContain(
      `Line 1: Parameter named '__spec__' is disallowed, ${bypass}`
    )
    expect(lines(await check("try:\n    pass\nexcept Exception as __loader__:\n    pass"))).toContain(
      `Line 3: Access to name '__loader__' is disallowed, ${bypass}`
    )
    expect(kind(await check("def handler(event, context):\n    global total\n    return 1"))).toBe("accepted")
  })

  it("match class patterns; near miss: mapping, sequence and keyword patterns", async () => {
    expect(lines(await check("match p:\n    case Point(a, b):\n        pass"))).toEqual([
      "Line 2: Positional match patterns are disallowed for security reasons."
    ])
    expect(lines(await check("match p:\n    case object(__class__=c):\n        pass"))).toEqual([
      `Line 2: Match pattern extracting attribute '__class__' is disallowed, ${bypass}`
    ])
    expect(
      kind(
        await check(
          "match p:\n    case {'x': 1}:\n        pass\n    case [a, b]:\n        pass\n    case Point(x=0):\n        pass"
        )
      )
    ).toBe("accepted")
  })

  it("full-width identifiers are normalised (NFKC) before the checks", async () => {
    expect(lines(await check("c = ().__ｃｌａｓｓ__"))).toEqual([
      `Line 1: Access to attribute '__class__' is disallowed, ${bypass}`
    ])
  })

  it("a syntax error gives the user's line and column", async () => {
    expect(await check("x = 1\ny = (")).toMatchObject({
      _tag: "Rejected",
      error: { _tag: "CodeSyntaxError", lineNumber: 2 }
    })
    expect(await check("def f(:\n  pass")).toMatchObject({
      _tag: "Rejected",
      error: { _tag: "CodeSyntaxError", lineNumber: 1, column: 7 }
    })
  })

  it("code the parser takes but the compiler refuses is a syntax error too (found by fuzzing)", async () => {
    expect(await check("counter = 0\ndef bump():\n    nonlocal missing\n    return 1\nreturn bump()")).toMatchObject({
      _tag: "Rejected",
      error: { _tag: "CodeSyntaxError", lineNumber: 3 }
    })
  })

  it("fails closed: oversize, too deep, and a helper that dies is restarted", async () => {
    expect(kind(await make({ maxCodeLength: 10 }).analyze("x = 1234567890"))).toBe("AnalysisFailed")
    expect(kind(await check(`x = ${"[".repeat(5000)}${"]".repeat(5000)}`))).not.toBe("accepted")
    const own = make()
    await own.analyze("x = 1")
    const pid = own.helper.pid!
    const pending = own.analyze(`x = ${"1 + ".repeat(100_000)}1`)
    process.kill(pid, "SIGKILL")
    const refused = await pending
    expect(refused._tag === "Rejected" && refused.error.message).toMatch(/The Python analyser stopped unexpectedly/)
    expect(kind(await own.analyze("x = 1"))).toBe("accepted")
    expect(own.helper.pid).not.toBe(pid)
  })

  it("caches verdicts (500, by code and allow-lists) but not a dead helper's refusals", async () => {
    const own = make()
    await own.analyze("import os")
    const pid = own.helper.pid!
    process.kill(pid, "SIGKILL")
    await new Promise((resolve) => setTimeout(resolve, 100))
    // A cached verdict does not need the helper at all.
    expect(kind(await own.analyze("import os"))).toBe("SecurityViolation")
    expect(own.helper.pid).toBeUndefined()
  })
})

describe.runIf(python !== undefined)("Python corpora", () => {
  it(`accepts all ${benignPython.length} ordinary snippets`, async () => {
    expect(benignPython.length).toBeGreaterThanOrEqual(30)
    const analyzer = make({
      stdlibAllow: ["json", "datetime", "re", "math", "collections", "itertools", "dataclasses", "functools"]
    })
    for (const snippet of benignPython) {
      const verdict = await analyzer.analyze(snippet.code)
      expect(
        kind(verdict),
        `${snippet.id}: ${
          verdict._tag === "Rejected"
            ? verdict.error.message + " " + ("description" in verdict.error ? verdict.error.description : "")
            : ""
        }`
      ).toBe("accepted")
    }
  })

  it(`gives each of the ${attackPython.length} attacks its expected verdict`, async () => {
    expect(attackPython.length).toBeGreaterThanOrEqual(30)
    const analyzer = make()
    const tags = {
      security: "SecurityViolation",
      syntax: "CodeSyntaxError",
      failed: "AnalysisFailed",
      runtime: "accepted"
    }
    for (const attack of attackPython) {
      const code = attack.code.replaceAll("{{CANARY_FILE}}", "/tmp/canary").replaceAll("{{PORT}}", "1")
      expect(kind(await analyzer.analyze(code)), `${attack.family}/${attack.id}`).toBe(tags[attack.expected])
    }
    expect(new Set(attackPython.map((a) => a.family)).size).toBeGreaterThanOrEqual(10)
  })
})

describe.skipIf(python !== undefined)("the Python analyser", () => {
  it("is skipped: no python3 in /usr/bin or /usr/local/bin on this machine", () => {
    expect(python).toBeUndefined()
  })
})
