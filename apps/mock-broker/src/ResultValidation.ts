import { Either } from "effect"
import type { NodeError } from "./NodeError.js"

/**
 * n8n checks and normalises a Code node's result after the runner returns it (spec 4.7). The
 * wording differs by language: "object(s)" for JavaScript, "dictionary/dictionaries" for Python.
 */
export type Language = "javascript" | "python"

/** An item after normalisation. */
export interface OutputItem {
  readonly json: unknown
  readonly binary?: unknown
  readonly [key: string]: unknown
}

const words = {
  javascript: { singular: "an object", plural: "objects" },
  python: { singular: "a dictionary", plural: "dictionaries" }
} as const

/** Keys that mark a value as an n8n item rather than plain data. */
const itemKeys = new Set(["json", "binary", "pairedItem", "error", "index"])

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const fail = (error: NodeError): Either.Either<never, NodeError> => Either.left(error)

const checkItem = (item: OutputItem, itemIndex: number, language: Language): NodeError | undefined => {
  const { singular } = words[language]
  if (!isObject(item.json)) {
    return {
      message: `A 'json' property isn't ${singular}`,
      description: `In the returned data, every key named 'json' must point to ${singular}.`,
      itemIndex
    }
  }
  if (item.binary !== undefined && !isObject(item.binary)) {
    return {
      message: `A 'binary' property isn't ${singular}`,
      description: `In the returned data, every key named 'binary' must point to ${singular}.`,
      itemIndex
    }
  }
  return undefined
}

const checkTopLevelKeys = (item: Record<string, unknown>, itemIndex: number): NodeError | undefined => {
  const keys = Object.keys(item)
  const reserved = keys.find((key) => itemKeys.has(key))
  const unknown = keys.find((key) => !itemKeys.has(key))
  if (unknown === undefined) return undefined
  if (reserved !== undefined) {
    return {
      message: "Invalid output format",
      description: `An output item contains the reserved key <code>${reserved}</code>. To get around this, ` +
        "please wrap each item in an object, under a key called <code>json</code>.",
      itemIndex
    }
  }
  return {
    message: `Unknown top-level item key: ${unknown}`,
    description: "Access the properties of an item under `.json`, e.g. `item.json`",
    itemIndex
  }
}

const inconsistent: NodeError = {
  message: "Inconsistent item format",
  description: "Either every returned item has a `json` (or `binary`) key, or none does."
}

/** n8n's `normalizeItems`: wraps bare objects into `{json}`, lifts `binary` next to the data. */
export const normalizeItems = (value: unknown): Either.Either<ReadonlyArray<OutputItem>, NodeError> => {
  const list: ReadonlyArray<unknown> = Array.isArray(value)
    ? value
    : isObject(value) && value["json"] !== undefined
    ? [value]
    : [{ json: value }]
  const has = (key: string) => (item: unknown) => isObject(item) && key in item
  if (list.every(has("json"))) return Either.right(list as ReadonlyArray<OutputItem>)
  if (list.some(has("json"))) return fail(inconsistent)
  if (list.length > 0 && list.every(has("binary"))) {
    return Either.right(list.map((item) => {
      const { binary, ...json } = item as Record<string, unknown>
      return { json, binary }
    }))
  }
  if (list.some(has("binary"))) return fail(inconsistent)
  return Either.right(list.map((json) => ({ json })))
}

/** Validation of an all-items result ("Run Once for All Items"). */
export const validateAllItems = (
  result: unknown,
  language: Language
): Either.Either<ReadonlyArray<OutputItem>, NodeError> => {
  const notItems: NodeError = {
    message: "Code doesn't return items properly",
    description: `Please return an array of ${words[language].plural}, one for each item you would like to output.`
  }
  // n8n would crash on `null` while normalising; we report it as the malformed result it is.
  if (typeof result !== "object" || result === null) return fail(notItems)
  if (Array.isArray(result)) {
    if (!result.every(isObject)) return fail(notItems)
    if (result.some((item) => Object.keys(item).some((key) => itemKeys.has(key)))) {
      for (let index = 0; index < result.length; index++) {
        const problem = checkTopLevelKeys(result[index] as Record<string, unknown>, index)
        if (problem !== undefined) return fail(problem)
      }
    }
  }
  return Either.flatMap(normalizeItems(result), (items) => {
    for (let index = 0; index < items.length; index++) {
      const problem = checkItem(items[index]!, index, language)
      if (problem !== undefined) return fail(problem)
    }
    return Either.right(items)
  })
}

/** Validation of one per-item result ("Run Once for Each Item"); `itemIndex` is the input position. */
export const validateEachItem = (
  result: unknown,
  itemIndex: number,
  language: Language
): Either.Either<OutputItem, NodeError> => {
  const { singular } = words[language]
  if (typeof result !== "object" || result === null) {
    return fail({
      message: `Code doesn't return ${singular}`,
      description: `Please return ${singular} representing the output item. ('${
        String(result)
      }' was returned instead.)`,
      itemIndex
    })
  }
  if (Array.isArray(result)) {
    const first = result.length > 0 ? `An array of ${typeof result[0]}s was returned.` : "An empty array was returned."
    return fail({
      message: `Code doesn't return a single ${singular.replace(/^an? /, "")}`,
      description:
        `${first} If you need to output multiple items, please use the 'Run Once for All Items' mode instead.`,
      itemIndex
    })
  }
  return Either.flatMap(normalizeItems([result]), ([item]) => {
    const problem = checkItem(item!, itemIndex, language) ??
      checkTopLevelKeys(item as Record<string, unknown>, itemIndex)
    return problem === undefined ? Either.right(item!) : fail(problem)
  })
}
