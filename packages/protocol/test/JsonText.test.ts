import { describe, expect, it } from "@effect/vitest"
import { checkJsonText, scanJson } from "../src/index.js"

const check = (text: string, depth = 100) => checkJsonText(Buffer.from(text, "utf8"), depth)

describe("checkJsonText", () => {
  it("accepts what JSON.parse accepts", () => {
    for (
      const text of [
        "[]",
        "{}",
        " [1, -2.5e+3, 0, 0.1, true, false, null, \"a\\\"b\\\\c\\/\\n\\u00e9\"] ",
        "{\"a\":{\"b\":[{}, [], \"x\"]},\"c\":\"é ✓\"}",
        "\"just a string\"",
        "42",
        JSON.stringify([{ json: { n: 1, s: "x".repeat(1000), nested: { deep: [1, [2, [3]]] } } }])
      ]
    ) {
      expect(() => JSON.parse(text)).not.toThrow()
      expect(check(text), text).toBeUndefined()
    }
  })

  it("refuses what JSON.parse refuses", () => {
    for (
      const text of [
        "",
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "{\"a\" 1}",
        "{a:1}",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[1e]",
        "\"unterminated",
        "\"tab\there\"",
        "\"bad \\x escape\"",
        "\"bad \\u12g4\"",
        "[tru]",
        "[nul]",
        "[1] [2]",
        "[1]]",
        "{\"a\":1}}",
        "[",
        "{\"a\":[1,2}"
      ]
    ) {
      expect(() => JSON.parse(text), text).toThrow(SyntaxError)
      expect(check(text), text).toBeTypeOf("string")
    }
  })

  it("refuses __proto__ keys however they are written, and too deep nesting", () => {
    expect(check("{\"__proto__\":{}}")).toMatch(/__proto__/)
    expect(check("[{\"a\":{\"__pro\\u0074o__\":1}}]")).toMatch(/__proto__/)
    expect(check("{\"__proto__x\":1, \"x__proto__\":2}")).toBeUndefined()
    expect(check("[\"__proto__\"]")).toBeUndefined()
    expect(check("[[[[1]]]]", 4)).toBeUndefined()
    expect(check("[[[[[1]]]]]", 4)).toMatch(/deeper than 4/)
  })

  it("agrees with JSON.parse on random mutations of a valid text", () => {
    const base = JSON.stringify({ a: [1, 2.5, "x\"y", { b: null, c: true }], d: "é" })
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const alphabet = "{}[],:\"\\ 0123456789.-eEtruefalsnl"
    for (let round = 0; round < 2000; round++) {
      const chars = [...base]
      const at = Math.floor(random() * chars.length)
      const pick = alphabet[Math.floor(random() * alphabet.length)]!
      if (random() < 0.5) chars.splice(at, 1)
      else chars.splice(at, 0, pick)
      const text = chars.join("")
      let parses = true
      try {
        JSON.parse(text)
      } catch {
        parses = false
      }
      expect(check(text) === undefined, text).toBe(parses)
    }
  })
})

describe("scanJson", () => {
  it("finds the value at a path, whatever it is and wherever it sits", () => {
    const text = JSON.stringify({
      type: "broker:taskdataresponse",
      data: {
        workflow: { nodes: [{ a: [1, 2] }] },
        inputData: { main: [[{ json: { n: 1 } }, { json: {} }], []] },
        x: 1
      }
    })
    const bytes = Buffer.from(text)
    const found = scanJson(bytes, 100, ["data", "inputData", "main", 0])
    expect(found.problem).toBeUndefined()
    const [start, end] = found.range!
    expect(JSON.parse(text.slice(start, end))).toEqual([{ json: { n: 1 } }, { json: {} }])
    expect(text.slice(...scanJson(bytes, 100, ["data", "inputData", "main", 1]).range!)).toBe("[]")
    expect(text.slice(...scanJson(bytes, 100, ["data", "x"]).range!)).toBe("1")
    expect(text.slice(...scanJson(bytes, 100, ["data", "workflow", "nodes", 0, "a", 1]).range!)).toBe("2")
    expect(scanJson(bytes, 100, ["data", "missing"]).range).toBeUndefined()
    expect(scanJson(Buffer.from("{\"a\":[1,}"), 100, ["a"]).problem).toBeTypeOf("string")
  })
})
