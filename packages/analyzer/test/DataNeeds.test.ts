import { describe, expect, it } from "@effect/vitest"
import { analyzeJavaScript, javaScriptDataNeeds } from "../src/index.js"
import type { DataNeeds } from "../src/index.js"

const needs = (code: string): DataNeeds => {
  const verdict = analyzeJavaScript(code)
  if (verdict._tag === "Rejected") throw new Error(verdict.error.message)
  return verdict.dataNeeds
}

const none: DataNeeds = { dataOfNodes: [], prevNode: false, input: false, env: false }
const everything = { dataOfNodes: "all", prevNode: true, input: true }

describe("data needs (spec 4.3): only what the code uses is requested", () => {
  it("nothing for code that uses no n8n data", () => {
    expect(needs("return [{ json: { now: Date.now() } }]")).toEqual(none)
  })

  it("$env asks for env", () => {
    expect(needs("return [{ json: { k: $env.API_KEY } }]")).toEqual({ ...none, env: true })
  })

  for (const name of ["$input", "$json", "items", "item", "$binary"]) {
    it(`${name} asks for the input`, () => {
      expect(needs(`const v = ${name}\nreturn []`)).toEqual({ ...none, input: true })
    })
  }

  it("a local variable named items is not the input", () => {
    expect(needs("const items = [1, 2]\nreturn items.map(n => ({ json: { n } }))")).toEqual(none)
  })

  it("$prevNode asks for the previous node", () => {
    expect(needs("return [{ json: { from: $prevNode.name } }]")).toEqual({ ...none, prevNode: true })
  })

  it("$execution needs no request field", () => {
    expect(needs("return [{ json: { id: $execution.id } }]")).toEqual(none)
  })

  for (const name of ["$item", "$node"]) {
    it(`${name} asks for everything`, () => {
      expect(needs(`const v = ${name}\nreturn []`)).toMatchObject(everything)
    })
  }

  it("$('Name') with a literal asks for that node only", () => {
    expect(
      needs(
        "return [{ json: { a: $('Webhook').first().json, b: $(\"HTTP Request\").all().length, c: $(`Set`).isExecuted } }]"
      )
    )
      .toEqual({ ...none, dataOfNodes: ["Webhook", "HTTP Request", "Set"] })
    expect(needs("return $('Webhook')?.last()")).toEqual({ ...none, dataOfNodes: ["Webhook"] })
  })

  const escalations: ReadonlyArray<[string, string]> = [
    ["stored in a variable", "const w = $('Webhook')\nreturn w.first()"],
    ["assigned", "let w\nw = $('Webhook')\nreturn []"],
    ["passed along", "return [{ json: f($('Webhook')) }]"],
    [".item", "return [{ json: $('Webhook').item.json }]"],
    [".pairedItem()", "return [{ json: $('Webhook').pairedItem().json }]"],
    ["['itemMatching']", "return [{ json: $('Webhook')['itemMatching'](0).json }]"],
    ["a variable key", "const k = 'first'\nreturn [{ json: $('Webhook')[k]().json }]"],
    ["a non-literal name", "const n = 'Webhook'\nreturn [{ json: $(n).first().json }]"]
  ]
  for (const [what, code] of escalations) {
    it(`$('Name') ${what} escalates to everything`, () => {
      expect(needs(code)).toMatchObject(everything)
    })
  }

  it("$items() asks for the input, $items('Name') for that node, non-literal for everything", () => {
    expect(needs("return $items()")).toEqual({ ...none, input: true })
    expect(needs("return $items('Webhook')")).toEqual({ ...none, dataOfNodes: ["Webhook"] })
    expect(needs("const n = 'x'\nreturn $items(n)")).toMatchObject(everything)
  })

  it("combines needs", () => {
    expect(needs("const a = $('A')\nreturn [{ json: { ...a.first().json, key: $env.K } }]")).toMatchObject(everything)
    expect(needs("return [{ json: { a: $('A').first().json, k: $env.K, n: $json.n } }]")).toEqual({
      dataOfNodes: ["A"],
      prevNode: false,
      input: true,
      env: true
    })
  })

  it("without judging the code (analysis switched off), unparsable code needs everything", () => {
    expect(javaScriptDataNeeds("return $env.X")).toEqual({ ...none, env: true })
    expect(javaScriptDataNeeds("return process.env")).toEqual(none)
    expect(javaScriptDataNeeds("return (")).toEqual({ dataOfNodes: "all", prevNode: true, input: true, env: true })
  })
})
