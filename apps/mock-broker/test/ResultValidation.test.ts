import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { normalizeItems, validateAllItems, validateEachItem } from "../src/ResultValidation.js"

const ok = <A>(result: Either.Either<A, unknown>): A => {
  if (Either.isLeft(result)) throw new Error(JSON.stringify(result.left))
  return result.right
}
const error = (result: Either.Either<unknown, { readonly message: string }>) =>
  Either.isLeft(result) ? result.left : undefined

describe("normalizeItems", () => {
  it("wraps bare objects, keeps items, lifts binary", () => {
    expect(ok(normalizeItems([{ a: 1 }, { b: 2 }]))).toEqual([{ json: { a: 1 } }, { json: { b: 2 } }])
    expect(ok(normalizeItems({ a: 1 }))).toEqual([{ json: { a: 1 } }])
    expect(ok(normalizeItems({ json: { a: 1 } }))).toEqual([{ json: { a: 1 } }])
    expect(ok(normalizeItems([{ name: "f", binary: { data: {} } }]))).toEqual([{
      json: { name: "f" },
      binary: { data: {} }
    }])
  })
})

describe("all-items results (spec 4.7)", () => {
  it("accepts arrays of objects and single objects", () => {
    expect(ok(validateAllItems([{ json: { a: 1 }, pairedItem: { item: 0 } }], "javascript"))).toHaveLength(1)
    expect(ok(validateAllItems({ a: 1 }, "python"))).toEqual([{ json: { a: 1 } }])
    expect(ok(validateAllItems([], "javascript"))).toEqual([])
  })

  it("refuses primitives, null and arrays of non-objects", () => {
    for (const value of [1, "x", true, null, [1, 2], [[{ a: 1 }]]]) {
      expect(error(validateAllItems(value, "javascript"))?.message).toBe("Code doesn't return items properly")
    }
  })

  it("an unknown top-level key next to n8n item keys", () => {
    expect(error(validateAllItems([{ json: {} }, { name: "x" }], "javascript"))).toEqual({
      message: "Unknown top-level item key: name",
      description: "Access the properties of an item under `.json`, e.g. `item.json`",
      itemIndex: 1
    })
  })

  it("a reserved key mixed with data keys", () => {
    expect(error(validateAllItems([{ json: {}, name: "x" }], "javascript"))?.message).toBe("Invalid output format")
  })

  it("json and binary must be objects", () => {
    expect(error(validateAllItems([{ json: 5 }], "python"))).toEqual({
      message: "A 'json' property isn't a dictionary",
      description: "In the returned data, every key named 'json' must point to a dictionary.",
      itemIndex: 0
    })
    expect(error(validateAllItems([{ json: {}, binary: "x" }], "javascript"))?.message).toBe(
      "A 'binary' property isn't an object"
    )
  })
})

describe("per-item results", () => {
  it("must be one object", () => {
    expect(error(validateEachItem(3, 4, "javascript"))).toEqual({
      message: "Code doesn't return an object",
      description: "Please return an object representing the output item. ('3' was returned instead.)",
      itemIndex: 4
    })
    expect(error(validateEachItem([{ a: 1 }], 0, "python"))).toEqual({
      message: "Code doesn't return a single dictionary",
      description:
        "An array of objects was returned. If you need to output multiple items, please use the 'Run Once for All Items' mode instead.",
      itemIndex: 0
    })
    expect(ok(validateEachItem({ json: { a: 1 }, pairedItem: { item: 2 } }, 2, "javascript"))).toEqual({
      json: { a: 1 },
      pairedItem: { item: 2 }
    })
  })
})
